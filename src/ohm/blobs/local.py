"""Blobs in a local directory: written to ``tmp/`` and renamed into place (atomic on one filesystem)."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from anyio import to_thread


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.bucket = f"file:{self.root}"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"bad blob key {key!r}")
        return path

    async def put(self, key: str, source: BinaryIO) -> bool:
        return await to_thread.run_sync(self._put, key, source)

    def _put(self, key: str, source: BinaryIO) -> bool:
        final = self._path(key)
        if final.exists():
            return False
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{final.name}.{secrets.token_hex(8)}"
        source.seek(0)
        with open(tmp, "wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        return True

    async def exists(self, key: str) -> bool:
        return self._path(key).exists()

    async def read(self, key: str) -> bytes:
        return await to_thread.run_sync(self._path(key).read_bytes)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        from ohm.blobs import CHUNK

        handle = await to_thread.run_sync(open, self._path(key), "rb")

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while chunk := await to_thread.run_sync(handle.read, CHUNK):
                    yield chunk
            finally:
                handle.close()

        return chunks()

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def listing(self) -> list[tuple[str, datetime]]:
        return await to_thread.run_sync(self._listing)

    def _listing(self) -> list[tuple[str, datetime]]:
        out: list[Any] = []
        if not self.root.exists():
            return out
        for path in self.root.rglob("*"):
            if path.is_file():
                out.append((path.relative_to(self.root).as_posix(),
                            datetime.fromtimestamp(path.stat().st_mtime, UTC)))
        return out
