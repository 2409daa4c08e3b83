"""OHM: a conversation store for multi-agent AI assistants that help makers build hardware."""

__version__ = "0.1.0"
