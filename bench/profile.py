"""Sampling profiles of running server processes with py-spy (a dev extra), summarised as text: the functions
that were on the CPU (self) and those under which the CPU time went (total), by share of samples.

Used by the benchmarks with `--profile`: one extra max-load run with py-spy attached to every gateway process
(its figures are not reported: sampling costs some CPU); the summary goes to bench/results/<name>-profile.txt.
"""

import asyncio
import collections
import shutil
import sys
from collections.abc import Awaitable
from pathlib import Path

REPO = str(Path(__file__).resolve().parent.parent) + "/"


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


async def record(pids: list[int], seconds: int, folder: Path, during: Awaitable) -> list[Path]:
    """Raw (collapsed) stacks of each process in `pids`, sampled for `seconds` at 200 Hz while `during` runs.
    Idle threads are left out, so the samples are where the CPU went."""
    binary = py_spy()
    if binary is None:
        raise SystemExit("py-spy is not installed (pip install -e '.[dev]')")
    outputs = [folder / f"py-spy-{pid}.txt" for pid in pids]
    spies = [
        await asyncio.create_subprocess_exec(
            binary, "record", "-p", str(pid), "-d", str(seconds), "-r", "200", "--nonblocking",
            "-f", "raw", "-o", str(out),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        for pid, out in zip(pids, outputs, strict=True)
    ]  # fmt: skip
    await during
    for spy in spies:
        await spy.wait()
    return [out for out in outputs if out.exists()]


def _frame(frame: str) -> str:
    """`function (path/to/module.py:line)` as `module.py:function`, the line left out so a function's lines add up."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) > 1 else path
    if path.startswith(REPO):
        short = path[len(REPO) :]
    for marker in ("site-packages/", "lib/python3.12/"):
        if marker in path:
            short = path.split(marker, 1)[1]
    return f"{short}:{name}"


def summarise(files: list[Path], title: str, top: int = 35) -> str:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    samples = 0
    for file in files:
        for line in file.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_frame(f) for f in stack.split(";")[1:]]  # the first is the thread
            if not frames:
                continue
            samples += count
            own[frames[-1]] += count
            for name in set(frames):
                total[name] += count
            # the innermost frame of the project's own code: where our code spent it, libraries included
            for name in reversed(frames):
                if name.startswith(("gateway/", "adapters/", "identity/", "mapping/")):
                    ours[name] += count
                    break
    if samples == 0:
        return f"{title}: no samples"

    def table(counter: collections.Counter[str]) -> list[str]:
        return [f"  {100 * n / samples:5.1f}%  {name}" for name, n in counter.most_common(top)]

    return "\n".join(
        [
            f"{title}: {samples:,} samples (200 Hz, CPU only, {len(files)} processes)",
            "self (on the CPU):",
            *table(own),
            "total (on the stack):",
            *table(total),
            "innermost project frame (what our code spent, with the libraries it called):",
            *table(ours),
        ]
    )
