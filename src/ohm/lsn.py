"""WAL positions (``16/B374D848``) as numbers: what ``OHM-LSN`` carries between server, client and library.

No I/O and nothing of ours imported: the typed client and the database layer both use it."""

from __future__ import annotations


def parse_lsn(text: str) -> int:
    """``16/B374D848`` as one number; ValueError for anything else."""
    high, sep, low = text.strip().partition("/")
    if not sep or not 1 <= len(high) <= 8 or not 1 <= len(low) <= 8:
        raise ValueError(f"not a WAL position: {text!r}")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"
