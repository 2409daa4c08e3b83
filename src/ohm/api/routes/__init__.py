"""Routers: thin, they parse, call one store function, and shape JSON."""
