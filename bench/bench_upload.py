"""Document upload throughput: `PUT /v1/dossiers/{code}/documents/{sha256}` through a real gateway on a real
socket, for a few file sizes, beside a plain copy of the same bytes on the same filesystem, in one run.

Run: .venv/bin/python -m bench.bench_upload [--sizes MiB ...] [--repeats N]

The gateway is `motcua serve` in a child process (so its memory can be read from /proc), against a private
PostgreSQL (fsync off, as in the other benches: the database commit is not what is measured here; the content
store's own fsync and rename are, as in production). The client, in this process, streams each file from disk
in chunks from an async generator, never holding it whole, with its Content-Length. Every upload is a distinct
file (random bytes behind a PDF header) to a fresh dossier that declared it, so nothing is deduplicated.
"""

import argparse
import asyncio
import contextlib
import hashlib
import os
import shutil
import signal
import statistics
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg

from bench.harness import run_and_record
from bench.machine import describe
from gateway.runtime import ensure_database
from gateway.store import clients
from gateway.store.embedded import EmbeddedPostgres, free_port
from gateway.store.migrate import migrate
from gateway.workflow.documents import UPLOAD_CHUNK
from tests.samples import postal_dossier

MIB = 1 << 20
MB = 1_000_000
CLIENT_CHUNK = 256 << 10  # what the client reads from disk and hands to aiohttp at a time
MAX_MIB = 190  # the intake schema declares documents up to 200,000,000 bytes
SECRET = "bench-secret-" + "b" * 40


def _make_source(path: Path, size: int, label: str) -> str:
    """A distinct file of `size` bytes that is a PDF by its signature, written and fsynced; its SHA-256."""
    digest = hashlib.sha256()
    head = f"%PDF-1.7\n% bench {label}\n".encode()
    with path.open("xb") as out:
        block, written = head + os.urandom(min(MIB, size) - len(head)), 0
        while block:
            out.write(block)
            digest.update(block)
            written += len(block)
            block = os.urandom(min(MIB, size - written))
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _copy_fsync(source: Path, target: Path) -> float:
    """The baseline: shutil.copyfile (sendfile on Linux) and os.fsync of the copy; seconds taken."""
    started = time.perf_counter()
    shutil.copyfile(source, target)
    fd = os.open(target, os.O_WRONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - started


def _hash_file(path: Path) -> float:
    """For reference: hashlib.sha256 over the same file read in 1 MiB blocks; seconds taken."""
    started = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(MIB):
            digest.update(block)
    return time.perf_counter() - started


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    source = await asyncio.to_thread(path.open, "rb")
    try:
        while block := await asyncio.to_thread(source.read, CLIENT_CHUNK):
            yield block
    finally:
        source.close()


def _status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux: `5` to /proc/<pid>/clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Gateway:
    """`python -m gateway.cli serve` as a child process on a free port, output to a log file."""

    def __init__(self, log: Path, env: dict[str, str]) -> None:
        self.log = log
        self.env = env
        self.base = ""
        self.process: asyncio.subprocess.Process | None = None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    async def start(self, session: aiohttp.ClientSession) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "gateway.cli",
                "serve",
                env={**self.env, "MOTCUA_PORT": str(port)},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        async with asyncio.timeout(60):
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"the gateway exited early:\n{self.tail()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.base}/readyz") as ready:
                        if ready.status == 200:
                            return
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGINT)
        try:
            async with asyncio.timeout(20):
                await self.process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


async def _file_dossier(
    session: aiohttp.ClientSession, gateway: Gateway, key: str, label: str, sha256: str, size: int
) -> str:
    """A fresh postal dossier declaring the one file; the path its upload goes to."""
    body = postal_dossier(
        documents=[
            {
                "component_code": "TK_LLTP",
                "name": f"Tờ khai {label}",
                "sha256": sha256,
                "size": size,
                "media_type": "application/pdf",
            }
        ]
    )
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"bench-{label}"}
    async with session.post(f"{gateway.base}/v1/dossiers", json=body, headers=headers) as answer:
        receipt = await answer.json()
        assert answer.status == 201, receipt
    return receipt["upload_urls"][sha256]


async def _upload(
    session: aiohttp.ClientSession, gateway: Gateway, key: str, path: str, source: Path, size: int
) -> float:
    """PUT the file, streamed; seconds from the first byte sent to the whole answer read."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/pdf", "Content-Length": str(size)}
    started = time.perf_counter()
    async with session.put(f"{gateway.base}{path}", data=_chunks(source), headers=headers) as answer:
        result = await answer.json()
    elapsed = time.perf_counter() - started
    assert answer.status == 201, result
    assert result["documents"][0]["size"] == size and result["forwarding"] == "queued", result
    return elapsed


def _mbps(size: int, seconds: float) -> float:
    return size / seconds / MB


async def run(sizes_mib: list[int], repeats: int, base: Path) -> str:
    largest = max(sizes_mib) * MIB
    data_dir, sources, copies = base / "data", base / "sources", base / "copies"
    for folder in (data_dir, sources, copies):
        folder.mkdir()
    server = EmbeddedPostgres(base / "pg", durable=False)
    admin_url = await asyncio.to_thread(server.start)
    env = {name: value for name, value in os.environ.items() if not name.startswith("MOTCUA_")}
    gateway = Gateway(
        base / "gateway.log",
        env
        | {
            "MOTCUA_DATABASE_URL": server.url("bench"),
            "MOTCUA_SECRET_KEY": SECRET,
            "MOTCUA_DATA_DIR": str(data_dir),  # the content store is <data>/documents
            "MOTCUA_DOCUMENT_MAX_BYTES": str(largest),
            "MOTCUA_DOSSIER_DOCUMENTS_MAX_BYTES": str(largest),
            "MOTCUA_LOG_JSON": "true",
        },
    )
    try:
        await ensure_database(admin_url, "bench")
        conn = await asyncpg.connect(server.url("bench"))
        try:
            await migrate(conn)
            org_id = await clients.create_organisation(conn, "Bench post", "postal", unit_code="00004")
            key = await clients.issue_key(conn, org_id)
        finally:
            await conn.close()

        async with aiohttp.ClientSession() as session:
            await gateway.start(session)
            pid = gateway.process.pid
            store = data_dir / "documents"
            assert os.stat(store).st_dev == os.stat(copies).st_dev, "the store and the copies on one filesystem"

            async def once(size: int, label: str, copy_first: bool) -> tuple[float, float, float, int | None]:
                source = sources / f"{label}.pdf"
                sha256 = await asyncio.to_thread(_make_source, source, size, label)
                path = await _file_dossier(session, gateway, key, label, sha256, size)
                copy_seconds = 0.0
                if copy_first:
                    copy_seconds = await asyncio.to_thread(_copy_fsync, source, copies / source.name)
                rss_before = _status_kib(pid, "VmRSS")
                reset = _reset_peak(pid)
                upload_seconds = await _upload(session, gateway, key, path, source, size)
                peak = _status_kib(pid, "VmHWM")
                if not copy_first:
                    copy_seconds = await asyncio.to_thread(_copy_fsync, source, copies / source.name)
                hash_seconds = await asyncio.to_thread(_hash_file, source)
                stored = store / sha256[:2] / sha256[2:4] / sha256
                assert stored.stat().st_size == size, stored
                growth = peak - rss_before if reset and peak is not None and rss_before is not None else None
                for leftover in (source, copies / source.name, stored):  # keep the disk use to one file's worth
                    leftover.unlink()
                return upload_seconds, copy_seconds, hash_seconds, growth

            for warm in range(2):  # connections, code paths and the first allocations warm
                await once(MIB, f"warm-{warm}", copy_first=bool(warm))
            rss_start = _status_kib(pid, "VmRSS")
            lines = []
            for size_mib in sizes_mib:
                size = size_mib * MIB
                runs = [await once(size, f"{size_mib}MiB-{rep}", copy_first=bool(rep % 2)) for rep in range(repeats)]
                upload = statistics.median(_mbps(size, r[0]) for r in runs)
                copy = statistics.median(_mbps(size, r[1]) for r in runs)
                hashing = statistics.median(_mbps(size, r[2]) for r in runs)
                low, high = min(_mbps(size, r[0]) for r in runs), max(_mbps(size, r[0]) for r in runs)
                growths = [r[3] for r in runs if r[3] is not None]
                memory = f"+{max(growths) / 1024:.1f} MiB" if len(growths) == len(runs) else "n/a"
                lines.append(
                    f"{size_mib} MiB: upload {upload:,.0f} MB/s (range {low:,.0f}-{high:,.0f}),"
                    f" copy+fsync {copy:,.0f} MB/s, upload/copy {upload / copy:.2f};"
                    f" sha256 alone {hashing:,.0f} MB/s; gateway peak RSS growth during upload {memory}"
                )
            rss_end = _status_kib(pid, "VmRSS")
        rss = (
            f"gateway RSS {rss_start / 1024:.0f} MiB after warm-up, {rss_end / 1024:.0f} MiB at the end"
            if rss_start is not None and rss_end is not None
            else "gateway RSS: n/a (no /proc)"
        )
        return "\n".join(
            [
                f"command: .venv/bin/python -m bench.bench_upload --sizes {' '.join(map(str, sizes_mib))}"
                f" --repeats {repeats}",
                f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                f"machine: {describe()}",
                f"PUT /v1/dossiers/{{code}}/documents/{{sha256}} to `motcua serve` (child process, 127.0.0.1),"
                f" client streaming the file from disk in {CLIENT_CHUNK >> 10} KiB chunks with Content-Length"
                f" (gateway reads {UPLOAD_CHUNK >> 10} KiB chunks: SHA-256, temp file, fsync, rename, directory"
                " fsync, then the PostgreSQL transaction; PostgreSQL fsync off as in the other benches);"
                f" each upload a distinct file to a fresh dossier; median of {repeats}, MB = 10^6 bytes,"
                " time from the first byte sent to the whole answer read",
                "baseline: shutil.copyfile of the same source file (sendfile) + os.fsync of the copy (the file, not"
                " its directory), same filesystem as the content store; sha256 alone: hashlib over the same file"
                " in 1 MiB blocks, for reference",
                "memory: VmHWM of the gateway process (/proc/<pid>/status), reset to the current RSS before each"
                " upload (/proc/<pid>/clear_refs), minus VmRSS just before it; the largest of the repeats",
                *lines,
                rss,
            ]
        )
    finally:
        await gateway.stop()
        await asyncio.to_thread(server.stop)


def _size(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_MIB:
        raise argparse.ArgumentTypeError(f"a whole number of MiB from 1 to {MAX_MIB}: {text!r}")
    return int(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=_size, nargs="+", default=[1, 16, 64], help="file sizes in MiB")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    run_and_record("upload", lambda base: run(args.sizes, args.repeats, base))


if __name__ == "__main__":
    main()
