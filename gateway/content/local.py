"""The content store on a local directory (MOTCUA_DOCUMENTS_DIR): `<root>/ab/cd/<sha256>`, written to
`<root>/.incoming/` first, fsynced, then renamed into place, so no reader ever sees a partial file and a
crash leaves at most a temporary file that a later start-up removes once it is stale.

File I/O runs in the default thread pool, a buffer of WRITE_BUFFER bytes at a time: the event loop never
blocks on the disk and memory stays bounded whatever the file's size.
"""

import asyncio
import contextlib
import hashlib
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from gateway.content.base import HEAD_BYTES, ContentTooLarge

WRITE_BUFFER = 1 << 20
READ_CHUNK = 256 << 10
STALE_INCOMING_SECONDS = 3600.0  # a temporary file untouched this long belongs to no live upload
_HASH = re.compile(r"^[0-9a-f]{64}$")


class _LocalIncoming:
    def __init__(self, store: "LocalContentStore", max_bytes: int) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._digest = hashlib.sha256()
        self._buffer = bytearray()
        self._temp = store.incoming_dir / uuid.uuid4().hex
        self._file = None
        self.size = 0
        self.head = b""
        self.sha256 = ""

    async def open(self) -> None:
        self._file = await asyncio.to_thread(open, self._temp, "xb")

    async def write(self, chunk: bytes) -> None:
        if self.size + len(chunk) > self._max_bytes:
            raise ContentTooLarge(self._max_bytes)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        self.size += len(chunk)
        self._digest.update(chunk)
        self._buffer += chunk
        if len(self._buffer) >= WRITE_BUFFER:
            await self._flush()

    async def _flush(self) -> None:
        data, self._buffer = bytes(self._buffer), bytearray()
        await asyncio.to_thread(self._file.write, data)

    async def finish(self) -> None:
        await self._flush()
        await asyncio.to_thread(_sync_and_close, self._file)
        self._file = None
        self.sha256 = self._digest.hexdigest()

    async def place(self) -> bool:
        assert self.sha256, "finish() first"
        return await asyncio.to_thread(self._store.place_file, self._temp, self.sha256)

    async def discard(self) -> None:
        if self._file is not None:
            await asyncio.to_thread(self._file.close)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._temp.unlink)


def _sync_and_close(file) -> None:
    file.flush()
    os.fsync(file.fileno())
    file.close()


class LocalContentStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming_dir = root / ".incoming"

    def prepare(self) -> None:
        """Create the folders and drop temporary files a crash left. Only stale ones: other processes (the
        gateway beside a worker, several replicas) share the folder, and an upload in progress keeps its
        file's modification time fresh."""
        self.incoming_dir.mkdir(parents=True, exist_ok=True)
        stale = time.time() - STALE_INCOMING_SECONDS
        for leftover in self.incoming_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < stale:
                    leftover.unlink()

    def path(self, sha256: str) -> Path:
        if not _HASH.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    @contextlib.asynccontextmanager
    async def receive(self, max_bytes: int) -> AsyncIterator[_LocalIncoming]:
        incoming = _LocalIncoming(self, max_bytes)
        await incoming.open()
        try:
            yield incoming
        finally:
            await incoming.discard()  # after place() the temporary file is gone already

    def place_file(self, temp: Path, sha256: str) -> bool:
        final = self.path(sha256)
        if final.exists():
            temp.unlink()
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, final)
        directory = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself is durable
        finally:
            os.close(directory)
        return True

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self.path(sha256).exists)

    async def read(self, sha256: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        file = await asyncio.to_thread(open, self.path(sha256), "rb")
        try:
            await asyncio.to_thread(file.seek, start)
            remaining = length
            while remaining is None or remaining > 0:
                size = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                chunk = await asyncio.to_thread(file.read, size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(file.close)

    async def delete(self, sha256: str) -> bool:
        try:
            await asyncio.to_thread(self.path(sha256).unlink)
        except FileNotFoundError:
            return False
        return True

    async def stored(self, older_than_seconds: float) -> AsyncIterator[str]:
        limit = time.time() - older_than_seconds
        for path in await asyncio.to_thread(lambda: sorted(self.root.glob("??/??/*"))):
            if _HASH.match(path.name) and (await asyncio.to_thread(path.stat)).st_mtime < limit:
                yield path.name
