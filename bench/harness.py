"""What every benchmark needs around its measurement: a folder other users may reach (the embedded
PostgreSQL runs as `postgres` under root), removed afterwards, and its figures printed and kept."""

import asyncio
import shutil
import statistics
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from gateway.store.embedded import free_port

RESULTS = Path(__file__).parent / "results"


def run_and_record(name: str, run: Callable[[Path], Awaitable[str]]) -> None:
    base = Path(tempfile.mkdtemp(prefix="motcua-bench-"))
    base.chmod(0o755)
    try:
        text = asyncio.run(run(base))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.txt").write_text(text + "\n")


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """`app` on a free local port, without an access log; the runner (to clean up) and its URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


def rate_line(name: str, count: int, total: float, latencies: list[float], baseline: float | None, versus: str) -> str:
    """`name: N/s, p50, p99` and, against a baseline's total time for the same count, `versus` and the ratio."""
    p50 = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98]
    ratio = f"; {versus} {total / baseline:.1f}x" if baseline else ""
    return f"{name}: {count / total:,.0f}/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms{ratio}"
