"""National Public Service Portal sync throughput: the outbox worker draining dvcqg.sync_dossier messages to the
portal simulator (claim, read the dossier, its documents and the events after the cursor, DongBoHoSoMC create of
the dossier, CapNhatTienDoHoSoMC with its progress rows, move the cursor, mark delivered), with 1 worker and with 4
concurrent workers, beside (a) plain aiohttp JSON POSTs of the same two request bodies per dossier to a
hello-world handler and (b) the portal client making the handler's two calls straight to the simulator (no
database, no outbox), all in one process and one run.

Run: .venv/bin/python -m bench.bench_sync [--dossiers N]

Everything is real: a private PostgreSQL, the gateway app (gateway.app.create_app, its portal client built from
its settings) on a real socket, the portal simulator on another real socket checking every record. Each dossier
gets its row, one linked component document and five timeline events appended with
gateway.store.dossiers.append_event before the workers start, so its sync messages are queued (and coalesced) as
in production: a backlog of one message per dossier carrying the dossier and five progress rows. The simulator
runs in the same process (and event loop), so every figure includes its cost.
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
    """Per sync message: run_once from claim to marked delivered; the handler alone; HTTP round trips to the portal."""

    messages: list[float] = dataclasses.field(default_factory=list)
    handler: list[float] = dataclasses.field(default_factory=list)
    portal: list[float] = dataclasses.field(default_factory=list)

    def breakdown(self) -> str:
        count = len(self.messages)
        whole, handler, portal = (sum(x) / count for x in (self.messages, self.handler, self.portal))
        return (
            f"mean per message {whole:.2f} ms = claim + mark delivered (2 pooled connections)"
            f" {whole - handler:.2f} ms + handler {handler:.2f} ms"
            f" (HTTP to the portal {portal:.2f} ms in {len(self.portal) / count:.1f} calls;"
            f" database reads, record building, cursor write {handler - portal:.2f} ms)"
        )


def _timed[**P, R](call: Callable[P, Awaitable[R]], into: Callable[[], list[float]]) -> Callable[P, Awaitable[R]]:
    async def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        t = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            into().append((time.perf_counter() - t) * 1000)

    return timed


async def _drain(services: Services, workers: int, timings: Timings) -> float:
    """`workers` loops of worker.run_once until nothing is due; the wall time. Each handled message's run_once
    time goes to timings.messages (the handler's and the portal calls' times are taken by the wrappers)."""

    async def loop() -> None:
        while True:
            t = time.perf_counter()
            if not await worker.run_once(services):
                return
            timings.messages.append((time.perf_counter() - t) * 1000)

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


async def run(count: int, base: Path) -> str:
    configure_logging("WARNING")  # no per-message log line: the figures are the sync path's own
    server = EmbeddedPostgres(base / "pg", durable=False)
    admin_url = await asyncio.to_thread(server.start)
    runners: list[web.AppRunner] = []
    direct: PortalClient | None = None
    original_handler = worker.HANDLERS[outbox.DVCQG_SYNC]
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

        # Instruments: the handler's time and every HTTP round trip of the gateway's portal client.
        current = Timings()
        worker.HANDLERS[outbox.DVCQG_SYNC] = _timed(original_handler, lambda: current.handler)
        services.portal._post = _timed(services.portal._post, lambda: current.portal)

        async with services.connection() as conn:
            org_id = await conn.fetchval(
                "INSERT INTO organisations (name, role, unit_code) VALUES ('Bưu điện Ba Đình', 'postal', '00004')"
                " RETURNING id"
            )
        days = [FIRST_DAY + timedelta(days=n) for n in range(5)]  # warm, 1 worker, 4 workers, direct 1, direct 4
        warm = await _create(services, org_id, days[0], 20)
        await _drain(services, 1, current)  # logged in, connections open, statements prepared
        async with services.connection() as conn:
            await _check_synced(conn, warm)

        results: dict[int, tuple[float, Timings]] = {}
        for workers, day in ((1, days[1]), (4, days[2])):
            codes = await _create(services, org_id, day, count)
            current = Timings()
            total = await _drain(services, workers, current)
            async with services.connection() as conn:
                await _check_synced(conn, codes)
            assert len(current.messages) == count, (workers, len(current.messages))  # one message per dossier
            results[workers] = total, current

        direct = PortalClient(dvcqg.portal_config(settings))
        await direct.login()
        work_one = await _portal_work(services, codes, days[3])
        work_four = await _portal_work(services, codes, days[4])
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

        sets = {days[0]: len(warm)} | dict.fromkeys(days[1:], count)
        calls = await _check_portal(portal_url, sets, dict.fromkeys(days, 9))
        total_dossiers = len(warm) + 4 * count
        assert calls["calls"].get(messages.SYNC) == total_dossiers, calls  # each created once: no "already exists"
        assert calls["calls"].get(messages.PROGRESS) == total_dossiers, calls
        assert calls["sessions_issued"] == 2 and not calls["sessions_refused"], calls  # the gateway's, the direct one

        rows = len(EVENTS) * count
        sizes = [len(json.dumps(body)) for body in requests[0]]  # as aiohttp sends json=

        def sync_lines(workers: int, hello_total: float, direct_total: float) -> list[str]:
            total, timings = results[workers]
            name = (
                "sync, 1 worker (claim + read dossier/documents/events + create + progress + cursor + delivered)"
                if workers == 1
                else "sync, 4 concurrent workers"
            )
            line = _line(name, count, total, timings.messages, hello_total)
            return [
                f"{line}; vs PortalClient direct {total / direct_total:.1f}x; {rows / total:,.0f} progress rows/s",
                f"  {workers} worker(s): {timings.breakdown()};"
                f" handler p50 {statistics.median(timings.handler):.2f} ms",
            ]

        return "\n".join(
            [
                f"command: .venv/bin/python -m bench.bench_sync --dossiers {count}",
                f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                f"machine: {describe()}",
                f"{count} dossiers per run (postal, {PROCEDURE}, one linked document), each with {len(EVENTS)} events"
                f" ({', '.join(EVENTS)}) appended before the workers start: one coalesced sync message per dossier ="
                f" 1 DongBoHoSoMC create ({sizes[0]:,} bytes) + 1 CapNhatTienDoHoSoMC of {len(EVENTS)} rows"
                f" ({sizes[1]:,} bytes); gateway (log at WARNING), portal simulator (checks every record) and baseline"
                " endpoint in the same process. Latency per dossier; for the sync, run_once from claim to marked"
                " delivered",
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
                *sync_lines(1, hello_one_total, direct_one_total),
                _line("baseline (a), 4 clients", count, hello_four_total, hello_four_lat, None),
                _line("baseline (b), 4 clients", count, direct_four_total, direct_four_lat, hello_four_total),
                *sync_lines(4, hello_four_total, direct_four_total),
            ]
        )
    finally:
        worker.HANDLERS[outbox.DVCQG_SYNC] = original_handler
        if direct is not None:
            await direct.close()
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
