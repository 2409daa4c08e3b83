"""OHM: a conversation store for multi-agent AI assistants that help makers build hardware."""

__version__ = "0.1.0"

# The name on the package index; the command and the import are `ohm`.
DISTRIBUTION = "ohm-store"


def install_hint(extra: str) -> str:
    """How to add an optional piece, for the published package and for a checkout."""
    return f"pip install '{DISTRIBUTION}[{extra}]', or in a checkout of OHM: pip install -e '.[{extra}]'"
