"""The HTTP API: FastAPI app, JWT auth, problem+json errors, routers."""
