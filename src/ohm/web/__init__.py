"""Server-rendered pages: the public share page."""
