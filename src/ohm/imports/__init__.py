"""Imports of other assistants' data exports (ChatGPT, Claude): read as a stream, one conversation at a time.

``read(path, source)`` yields a :class:`Conversation` (or a :class:`Problem` for one that cannot be read)
per conversation of the export, parents before children; ``ohm.store.imports`` writes each as a chat.
Nothing here touches the database.
"""

from __future__ import annotations

from ohm.imports.model import Conversation, ImportedMessage, Problem, read

__all__ = ["Conversation", "ImportedMessage", "Problem", "read"]
