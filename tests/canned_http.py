"""A raw socket server with canned answers (malformed, truncated, silent, refused), for the adapter tests that
show every transport failure of a partner is mapped to the adapter's own error."""

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

SILENT = None  # never answer: wait for the client to hang up


def http_answer(status: str, body: bytes = b"", content_type: str = "application/json", **headers: str) -> bytes:
    """An HTTP/1.1 answer, byte for byte; `Content_Length` given as a header overrides the true length."""
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    if "Content_Length" not in headers:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def json_answer(value: Any, status: str = "200 OK") -> bytes:
    return http_answer(status, json.dumps(value, ensure_ascii=False).encode())


class CannedServer:
    """Answers `first_path` with `first` and every other path with `rest`, byte for byte, then hangs up; records
    the paths and bodies it was sent."""

    def __init__(self, first_path: str, first: bytes | None, rest: bytes | None) -> None:
        self.first_path = first_path
        self.first, self.rest = first, rest
        self.paths: list[str] = []
        self.bodies: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            self.bodies.append(await reader.readexactly(int(length[1]) if length else 0))
            path = head.split(b" ", 2)[1].decode()
            self.paths.append(path)
            answer = self.first if path == self.first_path else self.rest
            if answer is SILENT:
                await reader.read()
            else:
                writer.write(answer)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up on a huge answer
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def canned_server(
    first_path: str, first: bytes | None, rest: bytes | None
) -> AsyncIterator[tuple[CannedServer, str]]:
    fake = CannedServer(first_path, first, rest)
    server = await asyncio.start_server(fake.serve, "127.0.0.1", 0)
    try:
        yield fake, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()
