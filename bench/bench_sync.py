"""National Public Service Portal sync throughput: the outbox worker draining dvcqg.sync_dossier messages to the
portal simulator as production does now, in batches (run_once claims up to MOTCUA_DVCQG_BATCH_SIZE sync messages,
one per dossier, and dvcqg.sync_batch reads each dossier, its documents and the events after its cursor, sends the
batch's dossiers in one DongBoHoSoMC create and all their progress rows in CapNhatTienDoHoSoMC calls of up to the
batch size, moves each cursor; then every message is marked delivered), with the default batch size (50) and with
batch size 1 (one dossier, or one progress row, per call), each with 1 worker and with 4 concurrent workers;
beside (a) plain aiohttp JSON POSTs of the same two request bodies per dossier to a hello-world handler and (b)
the portal client making the per-dossier calls straight to the simulator (no database, no outbox), all in one
process and one run.

Run: .venv/bin/python -m bench.bench_sync [--dossiers N]

Everything is real: a private PostgreSQL, the gateway app (gateway.app.create_app, its portal client built from
its settings) on a real socket, the portal simulator on another real socket checking every record. Each dossier
gets its row, one linked component document and five timeline events appended with
gateway.store.dossiers.append_event before the workers start, so its sync messages are queued (and coalesced) as
in production: a backlog of one message per dossier carrying the dossier and five progress rows. The simulator
runs in the same process (and event loop), so every figure includes its cost.

The batch size is the setting dvcqg_batch_size, read by the worker (how many messages one run_once claims) and,
through dvcqg.portal_config, by the portal client (how many records or rows go in one call) when the app starts.
For each run the bench puts a copy of the settings with that batch size in services.settings and, beside it, a
PortalClient built by dvcqg.portal_config from that copy in services.portal (the app's own client for the default
size), so both always agree, as in a gateway started with that setting.
"""

import argparse
import asyncio
import dataclasses
import hashlib
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from pydantic import SecretStr

from adapters.dvcqg import messages
from adapters.dvcqg.client import PortalClient
from adapters.dvcqg.simulator import SimulatorConfig, start_portal_simulator
from bench.harness import rate_line, run_and_record, serve
from bench.machine import describe
from gateway import worker
from gateway.app import create_app
from gateway.keys import SERVICES, Services
from gateway.logging import configure_logging
from gateway.runtime import ensure_database
from gateway.settings import Settings
from gateway.store import documents, dossiers, outbox
from gateway.store.embedded import EmbeddedPostgres
from gateway.workflow import dvcqg
from gateway.workflow.lifecycle import TRANSITIONS
from mapping.calendar import VN_TZ
from tests.samples import pdf, postal_dossier

AGENCY = "000.00.10.H26"
UNIT = "000.00.00.H26"
USERNAME, PASSWORD = "motcua", "bench-portal-password"
PROCEDURE = "2.000488"
# received → its file → the agency has it → processing → result ready: statuses 2, 2, 2, 4, 9 at the portal.
EVENTS = ("received", "document_received", "forwarded", "accepted", "result_ready")
FIRST_DAY = date(2026, 11, 16)  # each set of dossiers its own day, so its codes ({agency}-{yyMMdd}-{NNNN}) differ


def _line(name: str, count: int, total: float, latencies: list[float], baseline: float | None) -> str:
    return rate_line(name, count, total, latencies, baseline, "wall time vs hello-world baseline")


async def _create(services: Services, org_id: int, day: date, count: int) -> list[str]:
    """`count` minimal dossiers received on `day` (postal, procedure 2.000488), each with one linked component and
    the events of EVENTS appended through append_event (which queues the sync message); their codes."""
    procedure = services.catalog.procedure(PROCEDURE, day)
    opened = datetime(day.year, day.month, day.day, 8, tzinfo=VN_TZ)
    codes = []
    async with services.pool.acquire() as conn, conn.transaction():
        for i in range(count):
            code = f"{AGENCY}-{day:%y%m%d}-{i + 1:04d}"
            content = pdf(f"to khai {code}")
            sha256 = hashlib.sha256(content).hexdigest()
            body = postal_dossier()
            body["documents"][0] |= {"sha256": sha256, "size": len(content)}
            received_at = opened + timedelta(seconds=i)
            dossier_id = await dossiers.insert_dossier(
                conn,
                code=code,
                procedure_code=procedure.code,
                agency_code=AGENCY,
                submitter_org_id=org_id,
                channel="postal",
                status="received",
                received_at=received_at,
                appointment_at=received_at + timedelta(days=14),
                pin_salt=os.urandom(16),
                pin_hash=os.urandom(32),
                body=body,
                routing={"agency_code": AGENCY},
                receipt={
                    "code": code,
                    "procedure": {"code": procedure.code, "name": procedure.name},
                    "fees": {"due": [fee.model_dump(mode="json") for fee in procedure.fees]},
                },
            )
            status = "received"
            for step, kind in enumerate(EVENTS):
                status = TRANSITIONS[kind].to or status
                by_us = kind in ("received", "document_received")
                event = await dossiers.append_event(
                    conn,
                    dossier_id,
                    type=kind,
                    status_after=status,
                    occurred_at=received_at + timedelta(hours=step),
                    actor_org_id=org_id if by_us else None,
                    data={} if by_us else {"officer": "Trần Thị Bình"},
                )
                if kind == "document_received":
                    await documents.claim_content(conn, sha256, len(content), "application/pdf")
                    await documents.link(
                        conn,
                        dossier_id,
                        kind="component",
                        sha256=sha256,
                        name="Tờ khai",
                        uploaded_by=org_id,
                        event_seq=event["seq"],
                        component_code="TK_LLTP",
                    )
            codes.append(code)
    return codes


@dataclasses.dataclass
class Timings:
    """Per run_once (one batch of sync messages): its time from claim to the last message marked delivered, the
    batch handler's time and the batch's size; and every HTTP round trip to the portal in the run."""

    batches: list[float] = dataclasses.field(default_factory=list)
    handler: list[float] = dataclasses.field(default_factory=list)
    sizes: list[int] = dataclasses.field(default_factory=list)
    portal: list[float] = dataclasses.field(default_factory=list)

    def breakdown(self) -> str:
        count = len(self.batches)
        whole, handler = statistics.fmean(self.batches), statistics.fmean(self.handler)
        portal, size = sum(self.portal) / count, statistics.fmean(self.sizes)
        return (
            f"mean per run_once {whole:.2f} ms ({whole / size:.2f} ms per dossier) = claim + mark delivered"
            f" (2 pooled connections, {size:.1f} UPDATEs) {whole - handler:.2f} ms + handler {handler:.2f} ms"
            f" (HTTP to the portal {portal:.2f} ms in {len(self.portal) / count:.1f} calls;"
            f" database reads, record building, cursor writes {handler - portal:.2f} ms)"
        )


@dataclasses.dataclass
class Recorder:
    """Where the instruments put their times: the Timings of the run under way."""

    current: Timings = dataclasses.field(default_factory=Timings)


def _timed[**P, R](call: Callable[P, Awaitable[R]], into: Callable[[], list[float]]) -> Callable[P, Awaitable[R]]:
    async def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        t = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            into().append((time.perf_counter() - t) * 1000)

    return timed


def _timed_batches(original: worker.Batched, recorder: Recorder) -> worker.Batched:
    """The worker's batch entry for the sync, its handler timed and the size of each batch it gets noted."""

    async def handler(services: Services, batch: list[asyncpg.Record]) -> dict[int, str | None]:
        t = time.perf_counter()
        try:
            return await original.handler(services, batch)
        finally:
            recorder.current.handler.append((time.perf_counter() - t) * 1000)
            recorder.current.sizes.append(len(batch))

    return worker.Batched(handler, original.size)


async def _drain(services: Services, workers: int, timings: Timings) -> float:
    """`workers` loops of worker.run_once until nothing is due; the wall time. Each run_once that handled a batch
    goes to timings.batches (the handler's and the portal calls' times are taken by the instruments)."""

    async def loop() -> None:
        while True:
            t = time.perf_counter()
            if not await worker.run_once(services):
                return
            timings.batches.append((time.perf_counter() - t) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(workers)))
    return time.perf_counter() - started


async def _check_synced(conn: asyncpg.Connection, codes: list[str]) -> None:
    """Every dossier's cursor at its last event, no error kept, no sync message left pending or dead."""
    synced = await conn.fetchval(
        "SELECT count(*) FROM dossiers d JOIN dvcqg_sync s ON s.dossier_id = d.id WHERE d.code = ANY($1::text[])"
        " AND s.last_error IS NULL"
        " AND s.synced_seq = (SELECT max(seq) FROM dossier_events e WHERE e.dossier_id = d.id)",
        codes,
    )
    left = await conn.fetchval(
        "SELECT count(*) FROM outbox o JOIN dossiers d ON d.id = o.dossier_id WHERE d.code = ANY($1::text[])"
        " AND o.kind = $2 AND o.status <> 'delivered'",
        codes,
        outbox.DVCQG_SYNC,
    )
    assert synced == len(codes) and left == 0, (synced, left)


async def _hello(url: str, requests: list[list[dict[str, Any]]], concurrency: int) -> tuple[float, list[float]]:
    """Baseline (a): each dossier's request bodies POSTed as JSON to a hello-world handler, one after the other;
    wall time and per-dossier latencies (ms)."""
    latencies: list[float] = []
    remaining = iter(requests)
    async with aiohttp.ClientSession() as session:

        async def loop() -> None:
            for bodies in remaining:
                t = time.perf_counter()
                for body in bodies:
                    async with session.post(url, json=body) as answer:
                        await answer.read()
                        assert answer.status == 200
                latencies.append((time.perf_counter() - t) * 1000)

        async with session.post(url, json={}) as answer:  # connection warm
            await answer.read()
        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


async def _direct(
    client: PortalClient, work: list[tuple[messages.DossierRecord, list[messages.ProgressRow]]], concurrency: int
) -> tuple[float, list[float]]:
    """Baseline (b): the handler's two portal calls per dossier (upsert of the record, one progress batch) made by
    the portal client straight to the simulator; wall time and per-dossier latencies (ms)."""
    latencies: list[float] = []
    remaining = iter(work)

    async def loop() -> None:
        for record, rows in remaining:
            t = time.perf_counter()
            created = await client.upsert_dossiers([record])
            progress = await client.update_progress(rows)
            assert created.all_accepted and progress.all_accepted, (created, progress)
            latencies.append((time.perf_counter() - t) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def _portal_work(
    services: Services, codes: list[str], day: date
) -> list[tuple[messages.DossierRecord, list[messages.ProgressRow]]]:
    """What the handler sent for `codes` (built by its own functions from the stored rows), under new codes of
    `day`, so the simulator takes them as new dossiers."""
    work = []
    async with services.connection() as conn:
        for i, code in enumerate(codes):
            dossier = await conn.fetchrow("SELECT * FROM dossiers WHERE code = $1", code)
            events = await dossiers.list_events(conn, dossier["id"])
            officers = {row["id"]: row["name"] for row in await conn.fetch("SELECT id, name FROM organisations")}
            record = dvcqg.dossier_record(services, dossier, await documents.list_for(conn, dossier["id"]), None)
            new_code = f"{AGENCY}-{day:%y%m%d}-{i + 1:04d}"
            rows = [dataclasses.replace(dvcqg.progress_row(dossier, e, officers), code=new_code) for e in events]
            work.append((dataclasses.replace(record, code=new_code), rows))
    return work


async def _control(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.json()


async def _check_portal(portal_url: str, sets: dict[date, int], status: dict[date, int]) -> dict[str, Any]:
    """The simulator holds exactly `sets[day]` dossiers of each day, each once, with len(EVENTS) progress rows, none
    twice, in the status given; nothing else. Its call counts."""
    async with aiohttp.ClientSession() as session:
        held = (await _control(session, f"{portal_url}/_simulator/dossiers"))["dossiers"]
        codes = [dossier["MaHoSo"] for dossier in held]
        assert len(codes) == len(set(codes)) == sum(sets.values()), (len(codes), sets)
        for day, count in sets.items():
            mine = [d for d in held if d["MaHoSo"].split("-")[1] == f"{day:%y%m%d}"]
            assert len(mine) == count, (day, len(mine))
            assert all(d["TrangThaiHoSo"] == status[day] for d in mine), day
        for code in codes:
            rows = (await _control(session, f"{portal_url}/_simulator/progress/{code}"))["rows"]
            assert len(rows) == len(EVENTS), (code, rows)
            assert len({tuple(sorted(row.items())) for row in rows}) == len(EVENTS), (code, rows)
        return await _control(session, f"{portal_url}/_simulator/calls")


@dataclasses.dataclass(frozen=True)
class SyncRun:
    """One measured drain: its batch size and workers, wall time, timings, and the portal calls it made."""

    size: int
    workers: int
    total: float
    timings: Timings
    creates: int  # DongBoHoSoMC calls
    progress: int  # CapNhatTienDoHoSoMC calls


async def _calls(portal_url: str) -> dict[str, int]:
    async with aiohttp.ClientSession() as session:
        return (await _control(session, f"{portal_url}/_simulator/calls"))["calls"]


async def _sync(
    services: Services, recorder: Recorder, portal_url: str, org_id: int, day: date, count: int, workers: int
) -> SyncRun:
    """`count` fresh dossiers of `day` drained by `workers` loops of run_once at the batch size now in
    services.settings; checked: every dossier synced and its message delivered, each message in exactly one batch,
    and as many portal calls as that batching makes."""
    size = services.settings.dvcqg_batch_size
    assert services.portal._config.batch_size == size, "the portal client must split at the worker's batch size"
    codes = await _create(services, org_id, day, count)
    before = await _calls(portal_url)
    recorder.current = timings = Timings()
    total = await _drain(services, workers, timings)
    after = await _calls(portal_url)
    async with services.connection() as conn:
        await _check_synced(conn, codes)
    sizes = timings.sizes
    assert len(timings.batches) == len(sizes) and sum(sizes) == count and max(sizes) <= size, (size, workers, sizes)
    if workers == 1:  # one worker finds the whole backlog due: full batches, the last one what is left
        assert sizes == [min(size, count - start) for start in range(0, count, size)], (size, sizes)
    creates = after.get(messages.SYNC, 0) - before.get(messages.SYNC, 0)
    progress = after.get(messages.PROGRESS, 0) - before.get(messages.PROGRESS, 0)
    # Per batch: its dossiers in one create (all new to the portal: no "already exists", no update call), its
    # progress rows in calls of up to `size` rows (the client's split); no new login in the middle.
    assert creates == len(sizes), (size, workers, creates, len(sizes))
    assert progress == sum(-(-len(EVENTS) * n // size) for n in sizes), (size, workers, progress, sizes)
    assert after.get("login") == before.get("login"), (before, after)
    return SyncRun(size, workers, total, timings, creates, progress)


async def run(count: int, base: Path) -> str:
    configure_logging("WARNING")  # no per-message log line: the figures are the sync path's own
    server = EmbeddedPostgres(base / "pg", durable=False)
    admin_url = await asyncio.to_thread(server.start)
    runners: list[web.AppRunner] = []
    direct: PortalClient | None = None
    single: PortalClient | None = None
    original_batches = worker.BATCHES[outbox.DVCQG_SYNC]
    services: Services | None = None
    original: tuple[Settings, Any] | None = None
    try:
        await ensure_database(admin_url, "bench")
        runner, portal_url = await start_portal_simulator(
            SimulatorConfig(username=USERNAME, password=PASSWORD, unit_code=UNIT)
        )
        runners.append(runner)
        settings = Settings(
            database_url=server.url("bench"),
            secret_key=SecretStr("b" * 40),
            data_dir=base / "data",
            public_url="https://motcua.example.vn",
            dvcqg_url=portal_url,
            dvcqg_username=USERNAME,
            dvcqg_password=SecretStr(PASSWORD),
            dvcqg_unit_code=UNIT,
            worker_poll_seconds=0.05,
        )
        app = create_app(settings)  # no worker inside: the bench runs the workers itself
        runner, _ = await serve(app)  # migrated, its portal client built, on start-up
        runners.append(runner)
        hello = web.Application()
        hello.router.add_post("/api/service", lambda _: web.json_response({"error_code": 0, "message": "OK"}))
        runner, hello_url = await serve(hello)
        runners.append(runner)
        services = app[SERVICES]
        assert outbox.DVCQG_SYNC in worker.kinds(services), "the app built no portal client"
        original = services.settings, services.portal

        # The two batch sizes, each a settings copy and a portal client built from it: the app's own for the
        # default, one built by dvcqg.portal_config (as the app's start-up does) for batch size 1.
        batch = services.settings.dvcqg_batch_size
        one = services.settings.model_copy(update={"dvcqg_batch_size": 1})
        config_one = dvcqg.portal_config(one)
        assert config_one is not None and config_one.batch_size == 1 and batch > 1
        single = PortalClient(config_one)
        setups: dict[int, tuple[Settings, Any]] = {batch: original, 1: (one, single)}

        # Instruments: the batch handler's time and each batch's size; every HTTP round trip of both clients.
        recorder = Recorder()
        worker.BATCHES[outbox.DVCQG_SYNC] = _timed_batches(original_batches, recorder)
        for client in (services.portal, single):
            client._post = _timed(client._post, lambda: recorder.current.portal)

        async with services.connection() as conn:
            org_id = await conn.fetchval(
                "INSERT INTO organisations (name, role, unit_code) VALUES ('Bưu điện Ba Đình', 'postal', '00004')"
                " RETURNING id"
            )
        # warm at each size; batch/1 worker, 1/1, batch/4, 1/4; direct 1, direct 4: each set its own day
        days = [FIRST_DAY + timedelta(days=n) for n in range(8)]
        warm = 20
        runs: dict[tuple[int, int], SyncRun] = {}
        for client in (services.portal, single):
            await client.login()  # no login inside a drain: each is checked for it
        warmed = []
        for size, day in ((batch, days[0]), (1, days[1])):
            services.settings, services.portal = setups[size]
            warmed.append(await _sync(services, recorder, portal_url, org_id, day, warm, 1))  # statements prepared
        plan = [(batch, 1), (1, 1), (batch, 4), (1, 4)]
        for (size, workers), day in zip(plan, days[2:6], strict=True):
            services.settings, services.portal = setups[size]
            runs[size, workers] = await _sync(services, recorder, portal_url, org_id, day, count, workers)
        services.settings, services.portal = original
        codes = [f"{AGENCY}-{days[5]:%y%m%d}-{i + 1:04d}" for i in range(count)]

        direct = PortalClient(dvcqg.portal_config(settings))
        await direct.login()
        work_one = await _portal_work(services, codes, days[6])
        work_four = await _portal_work(services, codes, days[7])
        direct_one_total, direct_one_lat = await _direct(direct, work_one, 1)
        direct_four_total, direct_four_lat = await _direct(direct, work_four, 4)

        config = dvcqg.portal_config(settings)
        assert config is not None
        session = {"session": "x" * 32}
        requests = [
            [
                session | messages.sync_request([record], updating=False, config=config),
                session | messages.progress_request(rows, config),
            ]
            for record, rows in work_one
        ]
        hello_one_total, hello_one_lat = await _hello(f"{hello_url}/api/service", requests, 1)
        hello_four_total, hello_four_lat = await _hello(f"{hello_url}/api/service", requests, 4)

        sets = dict.fromkeys(days[:2], warm) | dict.fromkeys(days[2:], count)
        calls = await _check_portal(portal_url, sets, dict.fromkeys(days, 9))
        # All the calls the portal had: the drains' (each checked against its batches) and 2 per dossier direct.
        creates = sum(r.creates for r in [*warmed, *runs.values()]) + 2 * count
        progress = sum(r.progress for r in [*warmed, *runs.values()]) + 2 * count
        assert calls["calls"].get(messages.SYNC) == creates, (calls, creates)  # each created once
        assert calls["calls"].get(messages.PROGRESS) == progress, (calls, progress)
        assert calls["sessions_issued"] == 3 and not calls["sessions_refused"], calls  # gateway's, size 1, direct

        rows = len(EVENTS) * count
        records = [record for record, _ in work_one]
        progress_rows = [row for _, rows_of in work_one for row in rows_of]
        sizes = [len(json.dumps(body)) for body in requests[0]]  # as aiohttp sends json=
        batch_sizes = [
            len(json.dumps(session | messages.sync_request(records[:batch], updating=False, config=config))),
            len(json.dumps(session | messages.progress_request(progress_rows[:batch], config))),
        ]

        def sync_lines(size: int, workers: int, hello_total: float, direct_total: float) -> list[str]:
            each = runs[size, workers]
            timings = each.timings
            n = len(timings.batches)
            tail = (
                f"p99 {statistics.quantiles(timings.batches, n=100)[98]:.2f} ms"
                if n >= 100
                else f"max {max(timings.batches):.2f} ms"  # too few batches for a p99
            )
            name = f"sync, batch {size}, {workers} worker{'s' if workers > 1 else ''}"
            return [
                f"{name}: {count / each.total:,.0f} dossiers/s, {rows / each.total:,.0f} progress rows/s;"
                f" per run_once ({n} batches, mean {statistics.fmean(timings.sizes):.1f} dossiers):"
                f" p50 {statistics.median(timings.batches):.2f} ms, {tail};"
                f" wall time vs hello-world baseline {each.total / hello_total:.1f}x;"
                f" vs PortalClient direct {each.total / direct_total:.1f}x;"
                f" portal calls {each.creates:,} DongBoHoSoMC + {each.progress:,} CapNhatTienDoHoSoMC",
                f"  {timings.breakdown()}; handler p50 {statistics.median(timings.handler):.2f} ms",
            ]

        def effect(workers: int) -> str:
            gain = runs[1, workers].total / runs[batch, workers].total
            plural = "s" if workers > 1 else ""
            return f"batching, {workers} worker{plural}: batch {batch} {gain:.1f}x the dossiers/s of batch 1"

        return "\n".join(
            [
                f"command: .venv/bin/python -m bench.bench_sync --dossiers {count}",
                f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                f"machine: {describe()}",
                f"{count} fresh dossiers per run (postal, {PROCEDURE}, one linked document), each with {len(EVENTS)}"
                f" events ({', '.join(EVENTS)}) appended before the workers start: one coalesced sync message per"
                f" dossier. Each run_once claims up to dvcqg_batch_size of them and sync_batch sends the batch's"
                f" dossiers in one DongBoHoSoMC create and their progress rows in CapNhatTienDoHoSoMC calls of up to"
                f" dvcqg_batch_size rows (the portal client's split, from the same setting): batch {batch} ="
                f" 1 create ({batch_sizes[0]:,} bytes) + {-(-batch * len(EVENTS) // batch)} progress calls"
                f" ({batch_sizes[1]:,} bytes each) per {batch} dossiers; batch 1 = 1 create + {len(EVENTS)} progress"
                f" calls of 1 row per dossier. The baselines make the per-dossier calls of the unbatched handler:"
                f" 1 create ({sizes[0]:,} bytes) + 1 progress call of {len(EVENTS)} rows ({sizes[1]:,} bytes)."
                " Gateway (log at WARNING), portal simulator (checks every record) and baseline endpoint in the same"
                " process. Latency: baselines per dossier; sync per run_once (one batch), from claim to its last"
                " message marked delivered",
                _line(
                    "baseline (a): aiohttp JSON POSTs of the same 2 bodies per dossier, hello-world handler, 1 client",
                    count,
                    hello_one_total,
                    hello_one_lat,
                    None,
                ),
                _line(
                    "baseline (b): PortalClient straight to the simulator, upsert + progress per dossier, 1 client",
                    count,
                    direct_one_total,
                    direct_one_lat,
                    hello_one_total,
                ),
                *sync_lines(batch, 1, hello_one_total, direct_one_total),
                *sync_lines(1, 1, hello_one_total, direct_one_total),
                effect(1),
                _line("baseline (a), 4 clients", count, hello_four_total, hello_four_lat, None),
                _line("baseline (b), 4 clients", count, direct_four_total, direct_four_lat, hello_four_total),
                *sync_lines(batch, 4, hello_four_total, direct_four_total),
                *sync_lines(1, 4, hello_four_total, direct_four_total),
                effect(4),
            ]
        )
    finally:
        worker.BATCHES[outbox.DVCQG_SYNC] = original_batches
        if services is not None and original is not None:
            services.settings, services.portal = original  # the app's cleanup closes its own client
        for client in (direct, single):
            if client is not None:
                await client.close()
        for runner in reversed(runners):
            await runner.cleanup()
        await asyncio.to_thread(server.stop)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossiers", type=int, default=300)
    count = parser.parse_args().dossiers
    run_and_record("sync", lambda base: run(count, base))


if __name__ == "__main__":
    main()
