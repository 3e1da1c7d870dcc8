"""Push dispatch throughput: the outbox worker draining agency.deliver messages to the agency simulator (signed
pushes, verified by the simulator), with 1 worker and with 4 concurrent workers, beside an unsigned aiohttp POST of
the same body to a hello-world handler, all in one process and one run.

Run: .venv/bin/python -m bench.bench_dispatch [--dossiers N]

Everything is real: a private PostgreSQL (claims, receipts and 'forwarded' events are written there), the
simulator in a process of its own (it is the agency's system, not ours) on a real socket, fetching the
gateway's JWKS from another real socket, Ed25519 JWS both ways. The workers and the baselines share this one
process and event loop.
"""

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from pydantic import SecretStr

from bench.harness import INSERT_TABLE, TICK, Children, clock_ticks, postgres_ticks, rate_line, run_and_record, serve
from bench.machine import describe
from gateway import jws, worker
from gateway.app import build_services
from gateway.delivery_keys import keys_for
from gateway.keys import Services
from gateway.runtime import ensure_database
from gateway.settings import Settings
from gateway.store import endpoints, outbox
from gateway.store.db import create_pool
from gateway.store.embedded import EmbeddedPostgres
from gateway.store.migrate import migrate
from gateway.workflow import deliver
from tests.samples import postal_dossier

AGENCY = "000.00.10.H26"


def _line(name: str, count: int, total: float, latencies: list[float], baseline: float | None) -> str:
    return rate_line(name, count, total, latencies, baseline, "wall time vs baseline")


async def _enqueue(conn: asyncpg.Connection, org_id: int, label: str, count: int) -> None:
    """`count` minimal dossiers (status 'received', as intake leaves them once their files are in), each with its
    step and its agency.deliver message."""
    now = datetime.now(UTC)
    payload = postal_dossier()
    async with conn.transaction():
        for i in range(count):
            dossier_id = await conn.fetchval(
                "INSERT INTO dossiers (code, procedure_code, agency_code, submitter_org_id, channel, status,"
                " received_at, appointment_at, pin_salt, pin_hash, body, routing, receipt)"
                " VALUES ($1, $2, $3, $4, 'postal', 'received', $5, $5, $6, $6, $7, $8, $9) RETURNING id",
                f"{AGENCY}-{label}-{i:05d}",
                payload.get("procedure_code", "BENCH"),
                AGENCY,
                org_id,
                now,
                os.urandom(16),
                payload,
                {"agency_code": AGENCY},
                {"code": f"{AGENCY}-{label}-{i:05d}"},
            )
            message_id = await outbox.enqueue(
                conn, outbox.AGENCY_DELIVER, dossier_id=dossier_id, target=AGENCY, payload=payload
            )
            # Its step, as intake opens it: the agency's answer moves it to 'forwarded' with an event.
            await conn.execute(
                "INSERT INTO dossier_steps (dossier_id, step_order, agency_code, name, status, message_id, started_at)"
                " VALUES ($1, 1, $2, 'bench', 'received', $3, $4)",
                dossier_id,
                AGENCY,
                message_id,
                now,
            )


async def _drain(services: Services, workers: int) -> tuple[float, list[float]]:
    """Run `workers` loops of worker.run_once until nothing is due; wall time and per-push latencies (ms)."""
    latencies: list[float] = []

    async def loop() -> None:
        while True:
            t = time.perf_counter()
            if not await worker.run_once(services):
                return
            latencies.append((time.perf_counter() - t) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(workers)))
    return time.perf_counter() - started, latencies


class Cores:
    """CPU taken during one phase, in cores (seconds of CPU per second of wall time): this process (the workers),
    PostgreSQL, the agency simulator."""

    def __init__(self, pgdata: Path, agency: Children) -> None:
        self.parts = {
            "workers (this process)": lambda: clock_ticks(os.getpid()),
            "PostgreSQL": lambda: postgres_ticks(pgdata),
            "agency simulator": agency.ticks,
        }

    def start(self) -> None:
        self.started, self.ticks = time.perf_counter(), {name: read() for name, read in self.parts.items()}

    def line(self) -> str:
        wall = time.perf_counter() - self.started
        used = {name: (read() - self.ticks[name]) / TICK / wall for name, read in self.parts.items()}
        shown = ", ".join(f"{name} {cores:.2f}" for name, cores in used.items())
        return f"  CPU in cores: {shown}; total {sum(used.values()):.2f} of {os.cpu_count()}"


async def _write_floor(services: Services, workers: int) -> tuple[float, list[float]]:
    """The database work of dispatch and nothing else: `workers` loops claiming up to the worker's batch, each
    message's endpoint and dossier read and its receipt and 'forwarded' event recorded (deliver.record_receipt),
    the batch marked delivered as run_once marks it (worker.mark_delivered); no signing, no HTTP, no agency."""
    latencies: list[float] = []
    per_claim = worker.CONCURRENT[outbox.AGENCY_DELIVER]

    async def push(message) -> None:
        async with services.connection() as conn:
            endpoint, dossier = await endpoints.endpoint_and_dossier(conn, message["target"], message["dossier_id"])
        now = datetime.now(UTC)
        receipt = {"mode": "push", "url": endpoint["url"], "status": 200, "answer": {"accepted": True}}
        await deliver.record_receipt(services, message, dossier["code"], receipt, now)

    async def loop() -> None:
        while True:
            t = time.perf_counter()
            async with services.connection() as conn:
                batch = await worker.claim_many(conn, 60, [outbox.AGENCY_DELIVER], per_claim)
            if not batch:
                return
            await asyncio.gather(*(push(message) for message in batch))
            async with services.connection() as conn:
                await worker.mark_delivered(conn, [message["id"] for message in batch])
            latencies.append((time.perf_counter() - t) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(workers)))
    return time.perf_counter() - started, latencies


async def _baseline(url: str, body: bytes, count: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = iter(range(count))
    async with aiohttp.ClientSession() as session:

        async def loop() -> None:
            for _ in remaining:
                t = time.perf_counter()
                async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as answer:
                    await answer.read()
                    assert answer.status == 200
                latencies.append((time.perf_counter() - t) * 1000)

        async with session.post(url, data=body) as answer:  # connection warm
            await answer.read()
        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


async def _insert_baseline(dsn: str, count: int, concurrency: int) -> tuple[float, list[float]]:
    """The raw database baseline: BEGIN; INSERT one row; COMMIT, on `concurrency` connections of its own."""
    latencies: list[float] = []
    remaining = iter(range(count))
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    try:
        async with pool.acquire() as conn:
            await conn.execute(INSERT_TABLE)

        async def loop() -> None:
            async with pool.acquire() as conn:
                for i in remaining:
                    t = time.perf_counter()
                    async with conn.transaction():
                        await conn.execute("INSERT INTO bench_insert (label, body) VALUES ($1, $2)", f"d-{i}", "{}")
                    latencies.append((time.perf_counter() - t) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies
    finally:
        await pool.close()


async def _paced(
    services: Services, org_id: int, label: str, count: int, rate: float, workers: int
) -> tuple[float, list[tuple[float, float]]]:
    """Open loop: `count` messages enqueued at `rate` per second (each committed on its own, as intake would)
    while `workers` run_forever loops (the production worker, polling every MOTCUA_WORKER_POLL_SECONDS when
    idle) drain them; achieved rate and, per message, (seconds since the first was committed, its latency from
    its commit (created_at) to delivered_at)."""
    stop = asyncio.Event()
    loops = [asyncio.create_task(worker.run_forever(services, stop)) for _ in range(workers)]
    started = time.perf_counter()
    try:
        async with services.pool.acquire() as conn:
            for i in range(count):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await _enqueue(conn, org_id, f"{label}{i:05d}", 1)
            async with asyncio.timeout(120):
                while await conn.fetchval(  # noqa: ASYNC110 - the database is what tells
                    "SELECT count(*) FROM outbox WHERE status = 'pending' AND kind = 'agency.deliver'"
                ):
                    await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        await asyncio.gather(*loops)
    async with services.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT extract(epoch FROM o.delivered_at - o.created_at) * 1000 AS ms,"
            " extract(epoch FROM o.created_at - min(o.created_at) OVER ()) AS since_first"
            " FROM outbox o JOIN dossiers d ON d.id = o.dossier_id"
            " WHERE d.code LIKE $1 AND o.status = 'delivered' AND o.kind = 'agency.deliver'",
            f"%-{label}%",
        )
    assert len(rows) == count, f"{len(rows)} of {count} paced messages delivered"
    return elapsed, [(float(r["since_first"]), float(r["ms"])) for r in rows]


async def run(count: int, base: Path) -> str:
    server = EmbeddedPostgres(base / "pg", durable=False)
    admin_url = await asyncio.to_thread(server.start)
    runners: list[web.AppRunner] = []
    services = None
    agency = None
    try:
        await ensure_database(admin_url, "bench")
        key_file = base / "keys" / "delivery.key"
        jws.create_key_file(key_file)
        settings = Settings(
            database_url=server.url("bench"), secret_key=SecretStr("b" * 40), delivery_key_file=key_file
        )
        services = build_services(settings)
        services.pool = await create_pool(settings, settings.database_url, services.personal)

        jwks = web.Application()
        jwks.router.add_get(
            "/.well-known/jwks.json", lambda _: web.json_response(keys_for(services).jwks())
        )  # what gateway.api serves
        runner, jwks_url = await serve(jwks)
        runners.append(runner)
        # The agency is another system: its own process (its Ed25519 checks are not this process's CPU).
        agency = Children("agency simulator", base / "agency.log")
        await agency.start(
            [
                *(sys.executable, "-m", "adapters.agency.simulator", "--port", "{port}", "--agency-code", AGENCY),
                *("--jwks-url", f"{jwks_url}/.well-known/jwks.json"),
            ],
            dict(os.environ),
            1,
            "/_simulator/received",
        )
        sim_url = f"http://127.0.0.1:{agency.ports[0]}"
        hello = web.Application()
        hello.router.add_post("/inbox", lambda _: web.json_response({"accepted": True}))
        runner, hello_url = await serve(hello)
        runners.append(runner)

        async with services.pool.acquire() as conn:
            await migrate(conn)
            org_id = await conn.fetchval(
                "INSERT INTO organisations (name, role, unit_code) VALUES ('Bench post', 'postal', '00004')"
                " RETURNING id"
            )
            await endpoints.set_endpoint(conn, AGENCY, f"{sim_url}/inbox")
            await _enqueue(conn, org_id, "warm", 20)
        await _drain(services, 1)  # keys fetched and cached, connections open

        per_claim = worker.CONCURRENT[outbox.AGENCY_DELIVER]
        cores = Cores(server.pgdata, agency)

        async def phase(label: str, drain) -> tuple[float, list[float], str]:
            """`count` fresh messages drained by `drain()`: its wall time and latencies, and the cores taken."""
            async with services.pool.acquire() as conn:
                await _enqueue(conn, org_id, label, count)
            cores.start()
            total, latencies = await drain()
            return total, latencies, cores.line()

        one_total, one_lat, one_cores = await phase("one", lambda: _drain(services, 1))
        four_total, four_lat, four_cores = await phase("four", lambda: _drain(services, 4))
        rate = count / four_total / 2
        paced = max(200, int(rate * 10))
        half_total, half_lat = await _paced(services, org_id, "half", paced, rate, 4)
        # Workers asleep when the load starts wake within one idle poll; what waited meanwhile drains at the
        # workers' rate less the arrivals, which at half load is the arrival rate: as long again. After that, the
        # steady state.
        warm = 2 * settings.worker_poll_seconds
        steady = [ms for since_first, ms in half_lat if since_first >= warm]

        async with services.pool.acquire() as conn:
            left = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE kind = 'agency.deliver'"
                " AND (status <> 'delivered' OR receipt IS NULL)"
            )
            message = await conn.fetchrow("SELECT * FROM outbox WHERE kind = 'agency.deliver' ORDER BY id DESC LIMIT 1")
            forwarded = await conn.fetchval("SELECT count(*) FROM dossiers WHERE status = 'forwarded'")
            events = await conn.fetchval("SELECT count(*) FROM dossier_events WHERE type = 'forwarded'")
        total = 2 * count + 20 + paced
        assert left == 0, f"{left} messages not delivered"
        assert forwarded == total and events == total, (forwarded, events, total)
        async with aiohttp.ClientSession() as session, session.get(f"{sim_url}/_simulator/received") as answer:
            seen = await answer.json()
        assert len(seen["messages"]) == total and not seen["rejected"], seen["rejected"]
        assert set(seen["messages"].values()) == {1}, "a message pushed more than once"

        floor_total, floor_lat, floor_cores = await phase("floor", lambda: _write_floor(services, 4))
        async with services.pool.acquire() as conn:
            floored = await conn.fetchval(
                "SELECT count(*) FROM dossiers d JOIN outbox o ON o.dossier_id = d.id AND o.kind = 'agency.deliver'"
                " WHERE d.code LIKE '%-floor-%' AND d.status = 'forwarded' AND o.status = 'delivered'"
                " AND o.receipt IS NOT NULL"
            )
        assert floored == count, f"the write floor forwarded {floored} of {count}"

        body = deliver.request_body(message, "X", "not_checked")
        c1, c4 = per_claim, 4 * per_claim
        base_one_total, base_one_lat = await _baseline(f"{hello_url}/inbox", body, count, c1)
        base_four_total, base_four_lat = await _baseline(f"{hello_url}/inbox", body, count, c4)
        ins_one_total, ins_one_lat = await _insert_baseline(settings.database_url, count, c1)
        ins_four_total, ins_four_lat = await _insert_baseline(settings.database_url, count, c4)

        def against(total: float, hello: float, insert: float) -> str:
            return f"; {total / hello:.1f}x hello-world's time, {total / insert:.1f}x the insert loop's"

        return "\n".join(
            [
                f"command: .venv/bin/python -m bench.bench_dispatch --dossiers {count} --per-claim {per_claim}",
                f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                f"machine: {describe()}",
                f"{count} agency.deliver messages per run, body {len(body):,} bytes (a sample postal dossier);"
                " agency simulator in its own process (fetches the JWKS, verifies every Ed25519 JWS), baselines"
                " and workers in this one process and event loop, private PostgreSQL (fsync off). Each run_once"
                " claims up to"
                f" {per_claim} pushes (one per dossier and target), makes them side by side on one HTTP session"
                " (sign, POST, receipt + 'forwarded' event each) and marks the delivered ones in one UPDATE."
                " Checked: every message delivered with its receipt, every dossier forwarded with its event,"
                " the simulator got each push once and rejected none",
                _line(f"baseline: unsigned aiohttp POST, hello-world handler, {c1} clients", count,
                      base_one_total, base_one_lat, None),
                _line(f"baseline: raw asyncpg insert transaction, {c1} connections", count,
                      ins_one_total, ins_one_lat, None),
                rate_line(
                    "dispatch, 1 worker (claim + sign + push + verify + receipt/event + mark delivered);"
                    " latency per run_once", count, one_total, one_lat, None, "",
                ) + against(one_total, base_one_total, ins_one_total),
                one_cores,
                _line(f"baseline: unsigned aiohttp POST, hello-world handler, {c4} clients", count,
                      base_four_total, base_four_lat, None),
                _line(f"baseline: raw asyncpg insert transaction, {c4} connections", count,
                      ins_four_total, ins_four_lat, None),
                rate_line("dispatch, 4 concurrent workers; latency per run_once", count, four_total, four_lat,
                          None, "") + against(four_total, base_four_total, ins_four_total),
                four_cores,
                rate_line(
                    "write floor, 4 concurrent loops: the database work of dispatch and nothing else (claim, the"
                    " endpoint and dossier read, receipt + 'forwarded' event, mark delivered; no signing, HTTP or"
                    " agency); latency per claim", count, floor_total, floor_lat, None, "",
                ) + f"; dispatch with 4 workers takes {four_total / floor_total:.1f}x its time",
                floor_cores,
                rate_line(
                    f"dispatch, half load: {paced} messages enqueued at {rate:,.0f}/s (50% of the 4-worker max),"
                    f" 4 workers run_forever (poll every {settings.worker_poll_seconds:g} s when idle,"
                    f" {worker.ACTIVE_POLL_SECONDS:g} s for {worker.ACTIVE_SECONDS:g} s after work); latency from"
                    " each message's commit to delivered, all", paced, half_total, [ms for _, ms in half_lat],
                    None, "",
                ),
                rate_line(
                    f"  the same after the first {warm:g} s (workers awake: the steady state)", len(steady),
                    half_total * len(steady) / paced, steady, None, "",
                ),
                f"  the first {warm:g} s (workers waking from their idle poll, then draining what waited"
                f" meanwhile): {paced - len(steady)} messages,"
                f" slowest {max(ms for t, ms in half_lat if t < warm):.0f} ms",
            ]
        )  # fmt: skip
    finally:
        await deliver.close()
        if agency is not None:
            await agency.stop()
        if services is not None and services.pool is not None:
            await services.pool.close()
        for runner in reversed(runners):
            await runner.cleanup()
        await asyncio.to_thread(server.stop)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--per-claim", type=int, help="pushes one run_once claims and makes side by side")
    args = parser.parse_args()
    count = args.dossiers
    if args.per_claim:
        worker.CONCURRENT[outbox.AGENCY_DELIVER] = args.per_claim
    run_and_record("dispatch", lambda base: run(count, base))


if __name__ == "__main__":
    main()
