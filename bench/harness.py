"""What every benchmark needs around its measurement: a folder other users may reach (the embedded
PostgreSQL runs as `postgres` under root), removed afterwards, and its figures printed and kept."""

import asyncio
import contextlib
import os
import pickle
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
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


# --- Several processes: `motcua serve` children, hello-world children, load-generator children -----------------

HELLO = """
import sys
from aiohttp import web

async def hello(request):
    await request.read()
    return web.json_response({"ok": True})

app = web.Application()
app.router.add_route("*", "/{tail:.*}", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


# The floor of a path on this stack: aiohttp doing the least such a request must do against PostgreSQL and
# nothing else. A look-up: one pooled read of the dossier by its code (no PIN, no limits, no view). An intake:
# the JSON body parsed and stored in one durable insert transaction (no validation, routing, receipt, sealing,
# idempotency or timeline).
FLOOR = """
import json, sys
import asyncpg
from aiohttp import web

async def pool(app):
    app["pool"] = await asyncpg.create_pool(sys.argv[2], min_size=16, max_size=16)
    yield
    await app["pool"].close()

async def look_up(request):
    row = await request.app["pool"].fetchrow(
        "SELECT code, status FROM dossiers WHERE code = $1", request.match_info["code"]
    )
    return web.json_response({"code": row["code"], "status": row["status"]} if row else {}, status=200 if row else 404)

async def intake(request):
    body = json.loads(await request.read())
    async with request.app["pool"].acquire() as conn, conn.transaction():
        new = await conn.fetchval("INSERT INTO bench_floor (body) VALUES ($1::jsonb) RETURNING id", json.dumps(body))
    return web.json_response({"id": new}, status=201)

app = web.Application()
app.cleanup_ctx.append(pool)
app.router.add_get("/v1/track/{code}", look_up)
app.router.add_post("/v1/dossiers", intake)
app.router.add_get("/", lambda request: web.json_response({}))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


async def _start_floor(
    base: Path, dsn: str, count: int, module: str | None = None, args: tuple[str, ...] = (), env: dict | None = None
) -> "Children":
    """`count` floor servers on the bench's database: FLOOR, or the program `python -m <module> PORT DSN *args`
    (with `env` added to this process's environment)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, body jsonb NOT NULL)")
    finally:
        await conn.close()
    floor = Children("floor", base / "floor.log")
    program = ["-c", FLOOR] if module is None else ["-m", module]
    await floor.start([sys.executable, *program, "{port}", dsn, *args], dict(os.environ) | (env or {}), count, "/")
    return floor


def clock_ticks(pid: int, *, children: bool = False) -> int:
    """CPU ticks of a process (user + system), with those of its reaped children if asked; 0 once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks


def postgres_ticks(pgdata: Path) -> int:
    """CPU ticks of a PostgreSQL server so far: the postmaster with its reaped backends, and the live ones."""
    try:
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    total = clock_ticks(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == postmaster:
                total += clock_ticks(int(entry.name))
    return total


TICK = os.sysconf("SC_CLK_TCK")


def machine_busy_ticks() -> int:
    """CPU ticks every process of the machine spent so far (all of /proc/stat's cpu line but idle and iowait)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0
    return sum(fields) - fields[3] - fields[4]


class Children:
    """Child processes (servers) on free ports, each checked ready on a URL path before use; CPU read from
    /proc. Stopped with SIGINT (aiohttp's graceful shutdown), killed if they linger."""

    def __init__(self, name: str, log: Path) -> None:
        self.name = name
        self.log = log
        self.processes: list[asyncio.subprocess.Process] = []
        self.ports: list[int] = []

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    async def start(self, argv: list[str], env: dict[str, str], count: int, ready_path: str) -> None:
        async with aiohttp.ClientSession() as session:
            for _ in range(count):
                port = free_port()
                with self.log.open("ab") as out:
                    process = await asyncio.create_subprocess_exec(
                        *[a.replace("{port}", str(port)) for a in argv],
                        env={**env, "MOTCUA_PORT": str(port)},
                        stdin=asyncio.subprocess.DEVNULL,
                        stdout=out,
                        stderr=out,
                        start_new_session=True,
                    )
                self.processes.append(process)
                self.ports.append(port)
                async with asyncio.timeout(60):
                    while True:
                        if process.returncode is not None:
                            raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
                        with contextlib.suppress(aiohttp.ClientError):
                            async with session.get(f"http://127.0.0.1:{port}{ready_path}") as ready:
                                if ready.status == 200:
                                    break
                        await asyncio.sleep(0.1)

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def ticks(self) -> int:
        return sum(clock_ticks(pid) for pid in self.pids())

    async def stop(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                async with asyncio.timeout(20):
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()


async def start_hello(base: Path, count: int) -> Children:
    """The hello-world baseline: `count` aiohttp processes answering {"ok": true} to any request, its body read."""
    hello = Children("hello-world", base / "hello.log")
    await hello.start([sys.executable, "-c", HELLO, "{port}"], dict(os.environ), count, "/")
    return hello


def gateway_env(database_url: str, secret: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """`motcua serve` as production runs it (JSON logs at INFO to its output, here a file), on this database."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("MOTCUA_")}
    return (
        env
        | {
            "MOTCUA_DATABASE_URL": database_url,
            "MOTCUA_SECRET_KEY": secret,
            "MOTCUA_DATA_DIR": str(data_dir),
            "MOTCUA_LOG_JSON": "true",
        }
        | extra
    )


async def start_gateways(base: Path, env: dict[str, str], count: int) -> Children:
    gateways = Children("motcua serve", base / "gateway.log")
    await gateways.start([sys.executable, "-m", "gateway.cli", "serve"], env, count, "/readyz")
    return gateways


INSERT_TABLE = "CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, label text NOT NULL, body jsonb)"


@dataclass
class Run:
    """One measurement over every load-generator process."""

    count: int
    wall: float  # seconds, the longest process's
    latencies: list[float]  # ms, every request
    statuses: list[int]
    bodies: list[bytes | None]
    generator_cpu: float  # seconds, all generator processes
    cpu: dict[str, float]  # seconds per watched part (gateway, PostgreSQL, ...)
    offered: float | None = None  # requests/s asked for (open loop)
    machine: float = 0.0  # seconds of CPU the whole machine spent meanwhile

    @property
    def rate(self) -> float:
        return self.count / self.wall

    def p(self, q: int) -> float:
        return statistics.quantiles(self.latencies, n=100)[q - 1] if len(self.latencies) > 1 else self.latencies[0]

    def figures(self) -> str:
        return f"{self.rate:,.0f}/s, p50 {self.p(50):.2f} ms, p99 {self.p(99):.2f} ms"

    def cores(self) -> str:
        """CPU per part in cores (seconds of CPU per second of wall time)."""
        parts = {"load generator": self.generator_cpu} | self.cpu
        used = ", ".join(f"{name} {seconds / self.wall:.2f}" for name, seconds in parts.items())
        others = max(0.0, self.machine - sum(parts.values())) / self.wall
        return (
            f"CPU in cores: {used}; total {sum(parts.values()) / self.wall:.2f} of {os.cpu_count()};"
            f" other processes on the machine {others:.2f}"
        )


async def load(
    base: Path,
    *,
    kind: str = "http",
    requests: list[bytes] | None = None,
    ports: list[int] | None = None,
    count: int | None = None,
    dsn: str | None = None,
    label: str = "",
    generators: int = 2,
    concurrency: int | None = None,
    rate: float | None = None,
    connections: int = 64,
    keep_bodies: bool = False,
    watch: dict[str, Callable[[], int]] | None = None,
) -> Run:
    """One measurement: `generators` bench.loadgen processes, each with its share of `requests` (or of `count`
    insert transactions), closed loop at `concurrency` in all (shared out) or open loop at `rate` per second in
    all; the CPU ticks of every `watch`ed part read before and after."""
    total = len(requests) if requests is not None else count
    assert total is not None
    generators = max(1, min(generators, concurrency or generators))
    spread = base / "load"
    spread.mkdir(exist_ok=True)
    start_at = time.time() + 1.0 + 0.2 * generators
    shares = [list(range(g, total, generators)) for g in range(generators)]
    procs, outs = [], []
    for g, share in enumerate(shares):
        spec = {
            "kind": kind,
            "mode": "closed" if rate is None else "open",
            "start_at": start_at,
            "keep_bodies": keep_bodies,
            "connections": max(1, connections // generators),
        }
        if concurrency is not None:
            spec["concurrency"] = concurrency // generators + (1 if g < concurrency % generators else 0)
        if rate is not None:
            spec["rate"] = rate / generators
        if kind == "http":
            spec["requests"] = [requests[i] for i in share]
            # each process spreads its connections over every server, starting at a different one
            spec["ports"] = ports[g % len(ports) :] + ports[: g % len(ports)]
        else:
            spec |= {"count": len(share), "dsn": dsn, "label": f"{label}-{g}", "payload": '{"bench": true}'}
        spec_path, out_path = spread / f"spec-{g}.pkl", spread / f"out-{g}.pkl"
        spec_path.write_bytes(pickle.dumps(spec))
        outs.append(out_path)
        procs.append(await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.loadgen", spec_path, out_path))
    await asyncio.sleep(max(0.0, start_at - time.time()))
    watch = watch or {}
    before = {name: read() for name, read in watch.items()}
    busy_before = machine_busy_ticks()
    codes = [await p.wait() for p in procs]
    busy_after = machine_busy_ticks()
    after = {name: read() for name, read in watch.items()}
    assert codes == [0] * len(codes), f"a load generator failed: {codes}"
    results: list = [None] * total
    wall, cpu = 0.0, 0.0
    for share, out_path in zip(shares, outs, strict=True):
        out = pickle.loads(out_path.read_bytes())
        wall, cpu = max(wall, out["wall"]), cpu + out["cpu"]
        for i, result in zip(share, out["results"], strict=True):
            results[i] = result
    return Run(
        count=total,
        wall=wall,
        latencies=[r[1] for r in results],
        statuses=[r[0] for r in results],
        bodies=[r[2] for r in results],
        generator_cpu=cpu,
        cpu={name: (after[name] - before[name]) / TICK for name in watch},
        offered=rate,
        machine=(busy_after - busy_before) / TICK,
    )


def check_statuses(run: Run, expected: int, what: str) -> None:
    """Every request answered `expected`: a benchmark must never measure an error path."""
    wrong = [(s, b) for s, b in zip(run.statuses, run.bodies, strict=True) if s != expected]
    assert not wrong, f"{what}: {len(wrong)} of {run.count} answers not {expected}, e.g. {wrong[:3]}"


def versus(run: Run, baseline: Run, name: str) -> str:
    """How many times the baseline's throughput is the path's (its time per request against the baseline's)."""
    return f"{baseline.rate / run.rate:.1f}x the time per request of {name}"


def http_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Setup:
    """What a path is measured against: the servers to load and the parts to watch."""

    base: Path
    ports: list[int]  # the path's servers (motcua serve processes)
    hello: Children
    dsn: str  # the same PostgreSQL, for the insert baseline
    watch: dict[str, Callable[[], int]]  # the path's parts (gateway, PostgreSQL, simulators)
    postgres: Callable[[], int]
    generators: int = 2
    concurrency: int = 32


async def measure_path(
    setup: Setup,
    name: str,
    make: Callable[[int, str], list[bytes]],
    baseline_request: bytes,
    check: Callable[[Run, str], Awaitable[None]],
    *,
    max_count: int,
    half_seconds: float = 10.0,
    baseline_count: int = 12_000,
    keep_bodies: bool = True,
    profile: str | None = None,
) -> tuple[list[str], dict[str, Run]]:
    """The path at its most (closed loop at `setup.concurrency`), then paced at half that rate (open loop),
    and both baselines the same ways in the same run: the hello-world endpoint (answering `baseline_request`,
    a request of the path's size) and the raw insert loop. `make(n, label)` gives n fresh requests of the path;
    `check` asserts that every answer succeeded and the database holds what it should. The printed lines and
    the runs by name."""
    c = setup.concurrency
    common = {"generators": setup.generators}
    path_max = await load(
        setup.base,
        requests=make(max_count, "max"),
        ports=setup.ports,
        concurrency=c,
        watch=setup.watch,
        keep_bodies=keep_bodies,
        **common,
    )
    await check(path_max, "max")
    hello_max = await load(
        setup.base,
        requests=[baseline_request] * baseline_count,
        ports=setup.hello.ports,
        concurrency=c,
        watch={"hello-world servers": setup.hello.ticks},
        **common,
    )
    check_statuses(hello_max, 200, "hello-world")
    insert_max = await load(
        setup.base,
        kind="insert",
        count=baseline_count,
        dsn=setup.dsn,
        label=f"{name}-max",
        concurrency=c,
        watch={"PostgreSQL": setup.postgres},
        **common,
    )
    rate = path_max.rate / 2
    n = max(200, int(rate * half_seconds))
    path_half = await load(
        setup.base,
        requests=make(n, "half"),
        ports=setup.ports,
        rate=rate,
        watch=setup.watch,
        keep_bodies=keep_bodies,
        **common,
    )
    await check(path_half, "half")
    hello_half = await load(
        setup.base,
        requests=[baseline_request] * n,
        ports=setup.hello.ports,
        rate=rate,
        watch={"hello-world servers": setup.hello.ticks},
        **common,
    )
    check_statuses(hello_half, 200, "hello-world")
    insert_half = await load(
        setup.base,
        kind="insert",
        count=n,
        dsn=setup.dsn,
        label=f"{name}-half",
        rate=rate,
        watch={"PostgreSQL": setup.postgres},
        **common,
    )
    if profile is not None:
        await profile_max(setup, profile, make(max_count, "profile"), check)
    servers = len(setup.ports)
    lines = [
        f"{name}, max (closed loop, {c} connections over {servers} gateway processes, {path_max.count:,} requests):"
        f" {path_max.figures()}; {versus(path_max, hello_max, 'hello-world')},"
        f" {versus(path_max, insert_max, 'the insert loop')}",
        f"  {path_max.cores()}",
        f"  baseline hello-world, {c} connections over {len(setup.hello.ports)} processes: {hello_max.figures()};"
        f" {hello_max.cores()}",
        f"  baseline raw asyncpg insert transaction (BEGIN; INSERT one row; COMMIT), {c} connections:"
        f" {insert_max.figures()}; {insert_max.cores()}",
        f"{name}, half load (open loop paced at {rate:,.0f}/s = 50% of max, {n:,} requests, latency from when"
        f" each was due): {path_half.figures()}; p99 {path_half.p(99) / hello_half.p(99):.1f}x hello-world's,"
        f" {path_half.p(99) / insert_half.p(99):.1f}x the insert loop's at the same rate",
        f"  {path_half.cores()}",
        f"  baseline hello-world at {rate:,.0f}/s: {hello_half.figures()}",
        f"  baseline insert loop at {rate:,.0f}/s: {insert_half.figures()}",
    ]
    runs = {
        "max": path_max,
        "half": path_half,
        "hello_max": hello_max,
        "insert_max": insert_max,
        "hello_half": hello_half,
        "insert_half": insert_half,
    }
    return lines, runs


SECRET = "bench-secret-" + "b" * 40


@contextlib.asynccontextmanager
async def stack(base: Path, *, servers: int, role: str = "postal", durable: bool = True, unix: bool = True, **env: str):
    """A private PostgreSQL (durable, as in production, unless told), migrated, with one client organisation
    of `role` and its key; `servers` hello-world processes and `servers` `motcua serve` processes with `env`.
    Everything reaches PostgreSQL on its Unix socket unless `unix` is false. Yields (Setup, API key, asyncpg URL)."""
    import asyncpg

    from gateway.runtime import ensure_database
    from gateway.store import clients
    from gateway.store.embedded import EmbeddedPostgres
    from gateway.store.migrate import migrate

    server = EmbeddedPostgres(base / "pg", durable=durable)
    admin_url = await asyncio.to_thread(server.start)
    hello = gateways = None
    try:
        await ensure_database(admin_url, "bench")
        dsn = server.url("bench")
        if unix:  # PostgreSQL on the same machine: its Unix socket, not TCP over loopback
            dsn = dsn.replace(f"@127.0.0.1:{server.port}/bench", f"@/bench?host={server.pgdata}&port={server.port}")
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
            await conn.execute(INSERT_TABLE)
            org_id = await clients.create_organisation(conn, "Bench post", role, unit_code="00004")
            key = await clients.issue_key(conn, org_id)
        finally:
            await conn.close()
        hello = await start_hello(base, servers)
        gateways = await start_gateways(base, gateway_env(dsn, SECRET, base / "data", **env), servers)

        def postgres() -> int:
            return postgres_ticks(server.pgdata)

        setup = Setup(
            base=base,
            ports=gateways.ports,
            hello=hello,
            dsn=dsn,
            watch={"gateway": gateways.ticks, "PostgreSQL": postgres},
            postgres=postgres,
        )
        setup.gateways = gateways  # type: ignore[attr-defined]
        yield setup, key, dsn
    finally:
        for children in (gateways, hello):
            if children is not None:
                await children.stop()
        await asyncio.to_thread(server.stop)


async def profile_max(setup: Setup, name: str, requests: list[bytes], check) -> None:
    """One more max-load run with py-spy on every gateway process (figures not reported: sampling costs CPU);
    the summary to bench/results/<name>-profile.txt."""
    from bench.profile import record, summarise

    gateways: Children = setup.gateways  # type: ignore[attr-defined]
    seconds = 8
    folder = setup.base / f"profile-{name}"
    folder.mkdir()
    running = load(
        setup.base, requests=requests, ports=setup.ports, concurrency=setup.concurrency, keep_bodies=True,
        watch=setup.watch, generators=setup.generators,
    )  # fmt: skip
    task = asyncio.ensure_future(running)
    await asyncio.sleep(1.5)  # the generators start their clocks ~1.4 s after launch
    files = await record(gateways.pids(), seconds, folder, asyncio.sleep(seconds))
    run = await task
    await check(run, "profile")
    RESULTS.mkdir(exist_ok=True)
    text = summarise(files, f"{name}: py-spy on {len(files)} gateway processes during a max-load run ({run.figures()})")
    (RESULTS / f"{name}-profile.txt").write_text(text + "\n" + run.cores() + "\n")


async def measure_floor(
    setup: Setup,
    requests: list[bytes],
    status: int,
    floor: str,
    path: str,
    path_max: Run,
    module: str | None = None,
    name: str = "floor",
    args: tuple[str, ...] = (),
    env: dict | None = None,
) -> list[str]:
    """The floor (FLOOR, or the server `module`) answering the path's own `requests` at the path's concurrency,
    as many processes as the path has servers: its figures, and how many times the floor's time per request the
    path takes at max."""
    servers = await _start_floor(setup.base, setup.dsn, len(setup.ports), module, args, env)
    try:
        floor_max = await load(
            setup.base,
            requests=requests,
            ports=servers.ports,
            concurrency=setup.concurrency,
            generators=setup.generators,
            # The path's other parties (the identity simulator) too, gateways aside.
            watch={"floor servers": servers.ticks, "PostgreSQL": setup.postgres}
            | {name: ticks for name, ticks in setup.watch.items() if name not in ("gateway", "PostgreSQL")},
        )
    finally:
        await servers.stop()
    check_statuses(floor_max, status, "floor")
    per_request = path_max.wall / path_max.count / (floor_max.wall / floor_max.count)
    return [
        f"{name}: aiohttp + {floor}, {len(setup.ports)} processes, {setup.concurrency} connections, the same requests:"
        f" {floor_max.figures()}; the {path} takes {per_request:.1f}x its time per request",
        f"  {floor_max.cores()}",
    ]
