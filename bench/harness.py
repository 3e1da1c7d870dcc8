"""What every benchmark needs around its measurement: a folder other users may reach (the embedded
PostgreSQL runs as `postgres` under root), removed afterwards, and its figures printed and kept."""

import asyncio
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

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
