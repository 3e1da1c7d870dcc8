"""Tracking look-up throughput: `GET /v1/track/{code}` with the receipt's PIN in `X-Tracking-Pin`, through
`motcua serve` processes on real sockets, beside an aiohttp hello-world endpoint and a raw asyncpg single-row
insert transaction loop measured the same ways in the same run.

Run: .venv/bin/python -m bench.bench_tracking [--servers N] [--generators N] [--concurrency N] [--dossiers N]

The dossiers are filed first through the same gateways (POST /v1/dossiers, identity not checked: no register
is configured), so each look-up reads a real receipt, its steps and its timeline; the look-ups cycle through
their codes and PINs. Processes as in bench_intake: a private durable PostgreSQL, `--servers` gateway
processes (JSON logs at INFO to a file), `--generators` load-generator processes. Every answer must be 200
with the dossier's own code and no failed attempt may be recorded, or nothing is printed.
"""

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.bench_intake import Citizens, Requests
from bench.harness import (
    Run,
    check_statuses,
    http_request,
    load,
    measure_floor,
    measure_path,
    run_and_record,
    stack,
)
from bench.machine import describe
from gateway.api.tracking import PIN_HEADER


async def run(args: argparse.Namespace, base: Path) -> str:
    async with stack(base, servers=args.servers) as (setup, key, dsn):
        setup.generators, setup.concurrency = args.generators, args.concurrency
        filed = await load(
            base,
            requests=Requests(key).make(Citizens().take(args.dossiers), "track"),
            ports=setup.ports,
            concurrency=16,
            keep_bodies=True,
        )
        check_statuses(filed, 201, "intake before tracking")
        receipts = [json.loads(body) for body in filed.bodies]
        pairs = [(r["code"], r["tracking_pin"]) for r in receipts]

        def make(n: int, label: str) -> list[bytes]:
            return [
                http_request("GET", f"/v1/track/{code}", {PIN_HEADER: pin})
                for code, pin in (pairs[i % len(pairs)] for i in range(n))
            ]

        conn = await asyncpg.connect(dsn)

        async def check(run: Run, label: str) -> None:
            check_statuses(run, 200, f"tracking {label}")
            expected = make(run.count, label)
            for i in range(0, run.count, max(1, run.count // 200)):
                view = json.loads(run.bodies[i])
                assert f"/v1/track/{view['code']} " in expected[i].decode("latin-1"), (view["code"], i)
                assert view["status"] == "received" and view["timeline"], view
            failures = await conn.fetchval("SELECT count(*) FROM tracking_failures")
            assert failures == 0, f"{failures} failed tracking attempts recorded"

        lines, runs = await measure_path(
            setup,
            "tracking look-up",
            make,
            make(1, "baseline")[0],
            check,
            max_count=args.count,
            profile="tracking" if args.profile else None,
        )
        lines += await measure_floor(
            setup,
            make(args.count, "floor"),
            200,
            "one pooled asyncpg read of the dossier by code (no PIN, no limits, no view)",
            "look-up",
            runs["max"],
        )
        await conn.close()
    return "\n".join(
        [
            f"command: .venv/bin/python -m bench.bench_tracking --servers {args.servers} --generators"
            f" {args.generators} --concurrency {args.concurrency} --dossiers {args.dossiers} --count {args.count}",
            f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"machine: {describe()}",
            f"GET /v1/track/{{code}} with {PIN_HEADER} to {args.servers} `motcua serve` processes (JSON logs at INFO"
            " to a file), private durable PostgreSQL (fsync and synchronous_commit on),"
            f" {args.generators} load-generator processes (raw HTTP/1.1 keep-alive); all on this machine."
            f" Look-ups cycle through {args.dossiers:,} dossiers filed through the same gateways (status received,"
            " 1 event, 1 step). Checked: every answer 200 with the code asked for and its timeline, no failed"
            " attempt recorded",
            *lines,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=2, help="motcua serve processes")
    parser.add_argument("--generators", type=int, default=2, help="load-generator processes")
    parser.add_argument("--concurrency", type=int, default=32, help="connections at max load")
    parser.add_argument("--dossiers", type=int, default=1000, help="dossiers filed first, then looked up")
    parser.add_argument("--count", type=int, default=10_000, help="look-ups at max load")
    parser.add_argument("--profile", action="store_true", help="also py-spy the gateways in one more max run")
    args = parser.parse_args()
    run_and_record("tracking", lambda base: run(args, base))


if __name__ == "__main__":
    main()
