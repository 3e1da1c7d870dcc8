"""VNPost callback ingestion throughput: signed status callbacks POSTed to the gateway's
`POST /v1/postal/callbacks` (HMAC check, freshness, parse, store once, fold by event time) with 1 and with 8
concurrent clients, the same callbacks each sent twice (the dedupe path), and callbacks for dossiers in
'result_ready' (the delivered event moves the dossier to 'returned'), beside an unsigned aiohttp POST of the
same body size to a hello-world handler, all in one process and one run.

Run: .venv/bin/python -m bench.bench_callbacks [--items N]

Everything is real: a private PostgreSQL, the gateway app (gateway.app.create_app) on a real socket, HMAC-SHA256
signatures made per request. Each item gets events 1, 10, 11, 12, 14 (created → delivered) with increasing
TraceDate, sent round by round (every item's event 1, then every item's event 10, ...), so concurrent clients
mostly touch different items. The clients run in the same process (and event loop), so every figure includes
their cost.
"""

import argparse
import asyncio
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from pydantic import SecretStr

from adapters.postal import signing
from adapters.postal.messages import TrackingEvent, tracking_event_body
from adapters.postal.s10 import check_digit
from adapters.postal.status import vnpost_name
from bench.harness import rate_line, run_and_record, serve
from bench.machine import describe
from gateway.app import create_app
from gateway.keys import SERVICES
from gateway.logging import configure_logging
from gateway.runtime import ensure_database
from gateway.settings import Settings
from gateway.store.embedded import EmbeddedPostgres
from tests.samples import postal_dossier

AGENCY = "000.00.10.H26"
SECRET = "bench-callback-secret"
CODES = (1, 10, 11, 12, 14)  # created, in transit, at the post office, out for delivery, delivered


def _line(name: str, count: int, total: float, latencies: list[float], baseline: float | None) -> str:
    return rate_line(name, count, total, latencies, baseline, "time per callback vs baseline")


async def _items(conn: asyncpg.Connection, org_id: int, label: str, first: int, count: int, status: str) -> list[str]:
    """`count` minimal dossiers in `status`, each with its mailed result's postal item (ordered, no events yet);
    the item codes, S10 numbers RR + serials first.. + check digit + VN."""
    now = datetime.now(UTC)
    payload = postal_dossier()
    codes = []
    async with conn.transaction():
        for i in range(count):
            dossier_code = f"{AGENCY}-{label}-{i:05d}"
            dossier_id = await conn.fetchval(
                "INSERT INTO dossiers (code, procedure_code, agency_code, submitter_org_id, channel, status,"
                " received_at, appointment_at, pin_salt, pin_hash, body, routing, receipt)"
                " VALUES ($1, $2, $3, $4, 'postal', $5, $6, $6, $7, $7, $8, $9, $10) RETURNING id",
                dossier_code,
                payload.get("procedure_code", "BENCH"),
                AGENCY,
                org_id,
                status,
                now,
                os.urandom(16),
                payload,
                {"agency_code": AGENCY},
                {"code": dossier_code},
            )
            digits = f"{first + i:08d}"
            item_code = f"RR{digits}{check_digit(digits)}VN"
            await conn.execute(
                "INSERT INTO postal_items (item_code, dossier_id, direction, assigned_by, order_number, ordered_at,"
                " last_event_at) VALUES ($1, $2, 'result', 'pool', $3, $4, $4)",
                item_code,
                dossier_id,
                dossier_code,
                now,
            )
            codes.append(item_code)
    return codes


START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _bodies(items: list[str]) -> list[bytes]:
    """Every item's five events, round by round, an hour apart from START."""
    start = START
    return [
        json.dumps(
            tracking_event_body(
                TrackingEvent(
                    item_code=item,
                    order_number=None,
                    code=code,
                    name=vnpost_name(code),
                    occurred_at=start + timedelta(hours=step),
                    post_office="Bưu cục Ba Đình" if code in (11, 12, 14) else None,
                    note=None,
                    cod_amount=None,
                )
            ),
            ensure_ascii=False,
        ).encode()
        for step, code in enumerate(CODES)
        for item in items
    ]


async def _post_all(
    url: str, bodies: list[bytes], concurrency: int, *, signed: bool
) -> tuple[float, list[float], list[dict]]:
    """POST every body in order with `concurrency` clients on one session: wall time, latencies (ms), answers."""
    latencies: list[float] = []
    answers: list[dict] = []
    remaining = iter(bodies)
    secret = SECRET.encode()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def loop() -> None:
            for body in remaining:
                t = time.perf_counter()
                headers = {"Content-Type": "application/json"}
                if signed:
                    timestamp = int(time.time())
                    headers[signing.TIMESTAMP_HEADER] = str(timestamp)
                    headers[signing.SIGNATURE_HEADER] = signing.sign(secret, timestamp, body)
                async with session.post(url, data=body, headers=headers) as answer:
                    content = await answer.json()
                    assert answer.status == 200, (answer.status, content)
                latencies.append((time.perf_counter() - t) * 1000)
                answers.append(content)

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, answers


async def run(items: int, base: Path) -> str:
    configure_logging("WARNING")  # no per-request log line: the figures are the ingestion path's own
    server = EmbeddedPostgres(base / "pg", durable=False)
    admin_url = await asyncio.to_thread(server.start)
    runners: list[web.AppRunner] = []
    try:
        await ensure_database(admin_url, "bench")
        settings = Settings(
            database_url=server.url("bench"),
            secret_key=SecretStr("b" * 40),
            data_dir=base / "data",
            postal_url="http://127.0.0.1:9",  # never called: callbacks only
            postal_callback_secret=SecretStr(SECRET),
        )
        app = create_app(settings)
        runner, gateway_url = await serve(app)  # migrated on start-up
        runners.append(runner)
        hello = web.Application()
        hello.router.add_post("/callbacks", lambda _: web.json_response({"accepted": True}))
        runner, hello_url = await serve(hello)
        runners.append(runner)
        services = app[SERVICES]
        callbacks_url = f"{gateway_url}/v1/postal/callbacks"

        async with services.pool.acquire() as conn:
            org_id = await conn.fetchval(
                "INSERT INTO organisations (name, role, unit_code) VALUES ('Bench post', 'postal', '00004')"
                " RETURNING id"
            )
            warm = await _items(conn, org_id, "warm", 0, 20, "processing")
            one = await _items(conn, org_id, "one", 100_000, items, "processing")
            eight = await _items(conn, org_id, "eight", 200_000, items, "processing")
            twice = await _items(conn, org_id, "twice", 300_000, items, "processing")
            ready = await _items(conn, org_id, "ready", 400_000, items, "result_ready")

        count = len(CODES) * items
        await _post_all(callbacks_url, _bodies(warm), 8, signed=True)  # connections open, statements prepared
        one_total, one_lat, _ = await _post_all(callbacks_url, _bodies(one), 1, signed=True)
        eight_total, eight_lat, _ = await _post_all(callbacks_url, _bodies(eight), 8, signed=True)
        # Each callback twice: within each round every item's event, then every item's event again.
        twice_bodies, once = [], _bodies(twice)
        for step in range(len(CODES)):
            round_bodies = once[step * items : (step + 1) * items]
            twice_bodies += round_bodies + round_bodies
        twice_total, twice_lat, twice_answers = await _post_all(callbacks_url, twice_bodies, 8, signed=True)
        duplicates = sum(answer["duplicate"] for answer in twice_answers)
        ready_total, ready_lat, _ = await _post_all(callbacks_url, _bodies(ready), 8, signed=True)

        sample = _bodies(one)[-1]
        base_one_total, base_one_lat, _ = await _post_all(f"{hello_url}/callbacks", [sample] * count, 1, signed=False)
        base_eight_total, base_eight_lat, _ = await _post_all(
            f"{hello_url}/callbacks", [sample] * count, 8, signed=False
        )

        async with services.pool.acquire() as conn:
            stored = await conn.fetchval("SELECT count(*) FROM postal_events WHERE source = 'callback'")
            delivered = await conn.fetchval("SELECT count(*) FROM postal_items WHERE status = 'delivered'")
            returned = await conn.fetchval("SELECT count(*) FROM dossiers WHERE status = 'returned'")
            processing = await conn.fetchval("SELECT count(*) FROM dossiers WHERE status = 'processing'")
        assert stored == len(CODES) * (4 * items + 20), stored
        assert delivered == 4 * items + 20, delivered
        assert returned == items and processing == 3 * items + 20, (returned, processing)
        assert duplicates == count, duplicates

        return "\n".join(
            [
                f"command: .venv/bin/python -m bench.bench_callbacks --items {items}",
                f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                f"machine: {describe()}",
                f"{count:,} signed callbacks per run ({items} items x events {', '.join(map(str, CODES))}, round by"
                f" round), body ~{len(sample)} bytes; gateway app (request log off), clients and baseline endpoint"
                " in the same process",
                _line(
                    "baseline: unsigned aiohttp POST, hello-world handler, 1 client",
                    count,
                    base_one_total,
                    base_one_lat,
                    None,
                ),
                _line(
                    "callbacks, 1 client (verify HMAC + parse + lock dossier/item + store + fold + status)",
                    count,
                    one_total,
                    one_lat,
                    base_one_total,
                ),
                _line(
                    "baseline: unsigned aiohttp POST, hello-world handler, 8 clients",
                    count,
                    base_eight_total,
                    base_eight_lat,
                    None,
                ),
                _line("callbacks, 8 clients", count, eight_total, eight_lat, base_eight_total),
                _line(
                    f"callbacks, 8 clients, each sent twice ({2 * count:,} POSTs;"
                    f" duplicates {duplicates:,} = {duplicates / len(twice_answers):.1%})",
                    2 * count,
                    twice_total,
                    twice_lat,
                    2 * base_eight_total,
                ),
                _line(
                    "callbacks, 8 clients, dossiers 'result_ready' (delivered moves them to 'returned' with an event)",
                    count,
                    ready_total,
                    ready_lat,
                    base_eight_total,
                ),
            ]
        )
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        await asyncio.to_thread(server.stop)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=400)
    items = parser.parse_args().items
    run_and_record("callbacks", lambda base: run(items, base))


if __name__ == "__main__":
    main()
