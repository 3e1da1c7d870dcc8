"""One load-generator process: HTTP/1.1 keep-alive requests over raw asyncio sockets (no client library, so
the generator spends as little CPU per request as Python allows), or asyncpg single-row insert transactions.

Run by bench.harness as `python -m bench.loadgen SPEC OUT` (pickled dicts): several of these processes drive
one measurement, each with its share of the requests. Two ways to load:

- closed: `concurrency` connections, each sending its next request as soon as the previous answer is read,
  for the most a server gives;
- open: requests started at a fixed `rate` (per second, this process's share) whatever the answers, on as
  many connections as needed up to `connections`; each latency counts from when the request was due, so
  queueing behind a slow answer is in the figure (a closed loop would hide it).

Output: per request its status, latency (ms) and, when asked, its answer body; the process's own CPU time.
"""

import asyncio
import pickle
import resource
import sys
import time
from collections.abc import Iterator


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection; `request` sends raw bytes and returns (status, body) of the answer, which
    must carry a Content-Length (every aiohttp answer with a body does)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection closed: {exc}"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).decode("latin-1")
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            lowered = name.strip().lower()
            if lowered == "content-length":
                length = int(value)
            elif lowered == "transfer-encoding":
                self.waiter.set_exception(RuntimeError(f"chunked answer not supported: {head}"))
                return
        if length is None:
            length = 0
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        self.waiter.set_result((status, body))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.closed:
            raise ConnectionError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


async def _connect(port: int) -> HttpConnection:
    _, protocol = await asyncio.get_running_loop().create_connection(HttpConnection, "127.0.0.1", port)
    return protocol


async def _http(spec: dict) -> list[tuple[int, float, bytes | None]]:
    requests: list[bytes] = spec["requests"]
    ports: list[int] = spec["ports"]
    keep = spec.get("keep_bodies", False)
    results: list[tuple[int, float, bytes | None] | None] = [None] * len(requests)
    made = iter(range(1 << 30))

    async def new_connection() -> HttpConnection:
        return await _connect(ports[next(made) % len(ports)])

    async def one(connection: HttpConnection, i: int, due: float) -> None:
        status, body = await connection.request(requests[i])
        results[i] = (status, (time.perf_counter() - due) * 1000, body if keep or status >= 300 else None)

    if spec["mode"] == "closed":
        connections = [await new_connection() for _ in range(spec["concurrency"])]
        indices: Iterator[int] = iter(range(len(requests)))

        async def loop(connection: HttpConnection) -> None:
            for i in indices:
                await one(connection, i, time.perf_counter())

        await _start_together(spec)
        await asyncio.gather(*(loop(c) for c in connections))
    else:
        idle: list[HttpConnection] = [await new_connection() for _ in range(min(8, spec["connections"]))]
        opened = len(idle)
        freed = asyncio.Condition()
        tasks = []

        async def fire(i: int, due: float) -> None:
            nonlocal opened
            async with freed:
                while not idle and opened >= spec["connections"]:
                    await freed.wait()
                if idle:
                    connection = idle.pop()
                else:
                    opened += 1
                    connection = None
            if connection is None:
                connection = await new_connection()
            try:
                await one(connection, i, due)
            finally:
                async with freed:
                    idle.append(connection)
                    freed.notify()

        await _start_together(spec)
        interval = 1.0 / spec["rate"]
        start = time.perf_counter()
        for i in range(len(requests)):
            due = start + i * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(fire(i, due)))
        await asyncio.gather(*tasks)
    return results  # type: ignore[return-value]


async def _insert(spec: dict) -> list[tuple[int, float, bytes | None]]:
    """The raw database baseline: BEGIN; INSERT one row; COMMIT, on `concurrency` connections of its own."""
    import asyncpg

    count: int = spec["count"]
    payload: str = spec["payload"]
    results: list[tuple[int, float, bytes | None] | None] = [None] * count
    size = spec["concurrency"] if spec["mode"] == "closed" else spec["connections"]
    pool = await asyncpg.create_pool(spec["dsn"], min_size=size, max_size=size)

    async def one(conn, i: int, due: float) -> None:
        async with conn.transaction():
            label = f"{spec['label']}-{i}"
            await conn.execute("INSERT INTO bench_insert (label, body) VALUES ($1, $2)", label, payload)
        results[i] = (200, (time.perf_counter() - due) * 1000, None)

    try:
        if spec["mode"] == "closed":
            indices = iter(range(count))

            async def loop() -> None:
                async with pool.acquire() as conn:
                    for i in indices:
                        await one(conn, i, time.perf_counter())

            await _start_together(spec)
            await asyncio.gather(*(loop() for _ in range(size)))
        else:

            async def fire(i: int, due: float) -> None:
                async with pool.acquire() as conn:
                    await one(conn, i, due)

            await _start_together(spec)
            interval, tasks = 1.0 / spec["rate"], []
            start = time.perf_counter()
            for i in range(count):
                due = start + i * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(fire(i, due)))
            await asyncio.gather(*tasks)
    finally:
        await pool.close()
    return results  # type: ignore[return-value]


async def _start_together(spec: dict) -> None:
    """Every process of one measurement starts its clock at the same wall-clock instant."""
    delay = spec["start_at"] - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    spec["started"] = time.perf_counter()


def main() -> None:
    spec_path, out_path = sys.argv[1], sys.argv[2]
    with open(spec_path, "rb") as source:
        spec = pickle.load(source)
    before = resource.getrusage(resource.RUSAGE_SELF)
    work = _insert if spec["kind"] == "insert" else _http
    results = asyncio.run(work(spec))
    ended = time.perf_counter()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(out_path, "wb") as out:
        pickle.dump({"results": results, "wall": ended - spec["started"], "cpu": cpu}, out)


if __name__ == "__main__":
    main()
