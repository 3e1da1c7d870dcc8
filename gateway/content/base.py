"""The content store: document bytes addressed by their SHA-256, behind an interface an S3-compatible object
store can implement as well as a local directory.

Writing is two-phase so that a failed upload leaves nothing behind: `receive()` gives an `Incoming` that
hashes and spools the stream to a private temporary place; the caller checks what it learned (hash, size,
first bytes) and then `place()`s it under its hash, or lets it go (the temporary data is removed). Placing
content that is already there keeps the one copy: the same document uploaded twice is stored once.
"""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

HEAD_BYTES = 16  # enough to recognise PDF, JPEG and PNG by their signatures


class ContentTooLarge(Exception):
    """The stream went past the byte limit it was received with."""


class Incoming(Protocol):
    sha256: str  # hex, final once the stream has been written
    size: int
    head: bytes  # the first HEAD_BYTES bytes

    async def write(self, chunk: bytes) -> None:
        """Add a chunk; raises ContentTooLarge past the limit."""

    async def finish(self) -> None:
        """The stream ended: flush and make the data durable, so that `sha256` and `size` are final."""

    async def place(self) -> bool:
        """Store the content under its hash; True if it was new, False if the store already had it."""


class ContentStore(Protocol):
    def receive(self, max_bytes: int) -> AbstractAsyncContextManager[Incoming]:
        """A fresh upload; whatever was not placed when the context ends is discarded."""

    async def exists(self, sha256: str) -> bool: ...

    def read(self, sha256: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """The content's bytes from `start`, `length` of them (all to the end when None), in chunks."""

    async def delete(self, sha256: str) -> bool:
        """Remove the content; False if it was not there."""

    def stored(self, older_than_seconds: float) -> AsyncIterator[str]:
        """Hashes of stored content last written longer ago than that (to compare with the database)."""
