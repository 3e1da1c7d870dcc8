"""Intake throughput: `POST /v1/dossiers` through `motcua serve` processes on real sockets, (a) for citizens
whose identity was verified before (the cache answers) and (b) for citizens never seen, each checked afresh
against the population-database simulator (signed SOAP both ways), beside an aiohttp hello-world endpoint and
a raw asyncpg single-row insert transaction loop measured the same ways in the same run.

Run: .venv/bin/python -m bench.bench_intake [--servers N] [--generators N] [--concurrency N] [--agencies N]

Everything is real and in separate processes, as production runs it: a private durable PostgreSQL (fsync and
synchronous commit on), `--servers` gateway processes (`python -m gateway.cli serve`, JSON logs at INFO to a
file) on as many ports, the population-database simulator as a process of its own (`python -m
identity.simulator`), and `--generators` load-generator processes (bench/loadgen.py, raw HTTP/1.1 keep-alive)
spreading their connections over the gateway processes. Every answer must be 201 with a receipt, and the
database must hold one dossier per answer with the expected identity status and identity audit, or nothing
is printed.
"""

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from adapters.postal.s10 import check_digit
from bench.harness import (
    Children,
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
from identity.keys import create_demo_keys
from identity.simulator import generate_population
from tests.samples import postal_dossier

POPULATION = 30_000


class Citizens:
    """The simulator's population (same size and seed), handed out in order: each citizen once, unless reused."""

    def __init__(self) -> None:
        self.people = [p for p in generate_population(POPULATION) if p.birth_date is not None]
        self.next = 0

    def take(self, n: int) -> list:
        if self.next + n > len(self.people):
            raise SystemExit(f"the simulated population ({len(self.people)} usable) is too small for this run")
        taken = self.people[self.next : self.next + n]
        self.next += n
        return taken


def residences(provinces: int) -> list[str]:
    """One 2025 commune in each of the first `provinces` provinces (by code, Hà Nội first): a judicial-record
    request goes to the Sở Tư pháp of the applicant's province, so this many agencies receive the dossiers."""
    from vietnam_provinces import Ward

    first: dict[int, int] = {}
    for ward in Ward.iter_all():
        first[int(ward.province_code)] = min(int(ward.code), first.get(int(ward.province_code), 10**9))
    return [f"{first[code]:05d}" for code in sorted(first)[:provinces]]


class Requests:
    """Intake requests: a fresh Idempotency-Key and a fresh S10 item number each; the applicants' residences
    taken in turn from `communes`."""

    def __init__(self, key: str, communes: list[str] | None = None) -> None:
        self.key = key
        self.serial = 10_000_000
        self.communes = communes or residences(1)

    def make(self, people: list, label: str) -> list[bytes]:
        out = []
        for i, person in enumerate(people):
            self.serial += 1
            digits = f"{self.serial:08d}"
            body = postal_dossier(
                applicant={
                    "id_number": person.id_number,
                    "full_name": person.full_name,
                    "date_of_birth": person.birth_date.isoformat(),
                    "phone": "0912345678",
                    "residence": {
                        "unit_code": self.communes[self.serial % len(self.communes)],
                        "address_line": "12 phố Đội Cấn",
                    },
                },
                channel={
                    "type": "postal",
                    "post_office_code": "100000",
                    "item_number": f"EE{digits}{check_digit(digits)}VN",
                },
            )
            out.append(
                http_request(
                    "POST",
                    "/v1/dossiers",
                    {
                        "Authorization": f"Bearer {self.key}",
                        "Idempotency-Key": f"bench-{label}-{i}-{self.serial}",
                        "Content-Type": "application/json",
                    },
                    json.dumps(body, ensure_ascii=False).encode(),
                )
            )
        return out


async def _simulator(base: Path) -> tuple[Children, dict[str, Path]]:
    keys = create_demo_keys(base / "keys")
    simulator = Children("identity simulator", base / "simulator.log")
    await simulator.start(
        [
            sys.executable,
            "-m",
            "identity.simulator",
            "--port",
            "{port}",
            "--keys-dir",
            str(base / "keys"),
            "--population-size",
            str(POPULATION),
        ],
        {},
        1,
        "/?wsdl",
    )
    return simulator, keys


async def run(args: argparse.Namespace, base: Path) -> str:
    simulator, keys = await _simulator(base)
    try:
        env = {
            "MOTCUA_IDENTITY_URL": f"http://127.0.0.1:{simulator.ports[0]}/",
            "MOTCUA_IDENTITY_KEY_FILE": str(keys["gateway.key"]),
            "MOTCUA_IDENTITY_CERT_FILE": str(keys["gateway.crt"]),
            "MOTCUA_IDENTITY_TRUSTED_CERTS": json.dumps([str(keys["register.crt"])]),
        }
        async with stack(base, servers=args.servers, **env) as (setup, key, dsn):
            setup.generators, setup.concurrency = args.generators, args.concurrency
            setup.watch["identity simulator"] = simulator.ticks
            citizens, requests = Citizens(), Requests(key, residences(args.agencies))
            known = citizens.take(args.known)
            conn = await asyncpg.connect(dsn)

            async def check(expected_outcome: str, run: Run, label: str, before: int) -> None:
                check_statuses(run, 201, f"intake {expected_outcome} {label}")
                for body in run.bodies[:: max(1, run.count // 50)]:
                    receipt = json.loads(body)
                    assert receipt["identity_status"] == "verified" and receipt["tracking_pin"], receipt
                stored = await conn.fetchval("SELECT count(*) FROM dossiers") - before
                assert stored == run.count, f"{stored} dossiers stored for {run.count} answers"
                outcomes = dict(
                    await conn.fetch(
                        "SELECT outcome, count(*) FROM identity_checks WHERE id > $1 GROUP BY outcome", checks[0]
                    )
                )
                assert outcomes == {expected_outcome: run.count}, outcomes
                not_verified = await conn.fetchval("SELECT count(*) FROM dossiers WHERE identity_status <> 'verified'")
                assert not_verified == 0, f"{not_verified} dossiers not verified"

            counts = [0]
            checks = [0]

            async def mark() -> None:
                counts[0] = await conn.fetchval("SELECT count(*) FROM dossiers")
                checks[0] = await conn.fetchval("SELECT coalesce(max(id), 0) FROM identity_checks")

            # Warm: every known citizen verified once (their cache entries made), connections and code paths warm.
            await mark()
            warm = await load(
                base, requests=requests.make(known, "warm"), ports=setup.ports, concurrency=8, keep_bodies=True
            )
            await check("verified", warm, "warm", counts[0])

            def cached(n: int, label: str) -> list[bytes]:
                return requests.make([known[i % len(known)] for i in range(n)], f"cached-{label}")

            def fresh(n: int, label: str) -> list[bytes]:
                return requests.make(citizens.take(n), f"fresh-{label}")

            def checker(outcome: str):
                async def checked(run: Run, label: str) -> None:
                    await check(outcome, run, label, counts[0])
                    await mark()

                return checked

            baseline = requests.make(known[:1], "baseline")[0]
            await mark()
            cached_lines, cached_runs = await measure_path(
                setup,
                "intake, identity cached",
                cached,
                baseline,
                checker("cached"),
                max_count=args.cached_count,
                profile="intake-cached" if args.profile else None,
            )
            fresh_lines, fresh_runs = await measure_path(
                setup,
                "intake, fresh signed identity check",
                fresh,
                baseline,
                checker("verified"),
                max_count=args.fresh_count,
                profile="intake-fresh" if args.profile else None,
            )
            floor_lines = await measure_floor(
                setup,
                cached(args.cached_count, "floor"),
                201,
                "the same JSON bodies parsed and stored in one durable insert transaction each (nothing else)",
                "cached intake",
                cached_runs["max"],
            )
            floor_lines += await measure_floor(
                setup,
                cached(args.cached_count, "write-floor"),
                201,
                "the database work of an intake and nothing else (bench/write_floor.py: the key claimed, then in one"
                " transaction the code counter and the gateway's own one-statement write of the same rows, of the"
                " same sizes; no authentication, validation, routing, receipt, sealing, identity cache or logging)",
                "cached intake",
                cached_runs["max"],
                module="bench.write_floor",
                name="write floor",
            )
            written = await conn.fetchval("SELECT count(*) FROM dossiers WHERE agency_code LIKE 'FLOOR-%'")
            assert written == args.cached_count, f"the write floor stored {written} dossiers of {args.cached_count}"
            fresh_floor_lines = await measure_floor(
                setup,
                fresh(args.fresh_count, "write-floor"),
                201,
                "the same with a fresh signed look-up per request first (the gateway's own client and simulator;"
                " the signed answer stored as evidence, audited and cached; no matching rules)",
                "fresh intake",
                fresh_runs["max"],
                module="bench.write_floor",
                name="write floor, fresh identity",
                args=("fresh",),
                env=env,
            )
            evidence = await conn.fetchval(
                "SELECT count(*) FROM identity_checks c JOIN dossiers d ON d.id = c.dossier_id"
                " WHERE d.agency_code LIKE 'FLOOR-%' AND c.outcome = 'verified' AND d.identity_evidence_id IS NOT NULL"
            )
            assert evidence == args.fresh_count, f"the fresh write floor kept {evidence} answers of {args.fresh_count}"
            await conn.close()
        return "\n".join(
            [
                f"command: .venv/bin/python -m bench.bench_intake --servers {args.servers} --generators"
                f" {args.generators} --concurrency {args.concurrency} --agencies {args.agencies}",
                f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                f"machine: {describe()}",
                f"POST /v1/dossiers (a postal dossier, {len(baseline):,} bytes with headers, for residents of"
                f" {args.agencies} province(s) in turn, so routed to {args.agencies} Sở Tư pháp) to {args.servers}"
                " `motcua serve` processes (JSON logs at INFO to a file), private durable PostgreSQL (fsync and"
                " synchronous_commit on), identity simulator (signed SOAP, 30,000 citizens) in its own process,"
                f" {args.generators} load-generator processes (raw HTTP/1.1 keep-alive); all on this machine."
                f" Cached: {args.known:,} citizens verified once before, then reused; fresh: a citizen never"
                " seen per request. Checked: every answer 201 with a verified receipt, one dossier stored per"
                " answer, one identity audit row per dossier ('cached' or 'verified')",
                *cached_lines,
                *fresh_lines,
                *floor_lines,
                *fresh_floor_lines,
            ]
        )
    finally:
        await simulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=2, help="motcua serve processes")
    parser.add_argument("--generators", type=int, default=2, help="load-generator processes")
    parser.add_argument("--concurrency", type=int, default=32, help="connections at max load")
    parser.add_argument("--known", type=int, default=1000, help="citizens verified before the cached runs")
    parser.add_argument(
        "--agencies",
        type=int,
        default=1,
        choices=range(1, 35),
        metavar="1-34",
        help="provinces the applicants live in, in turn (each one's Sở Tư pháp numbers its dossiers apart)",
    )
    parser.add_argument("--cached-count", type=int, default=3000)
    parser.add_argument("--fresh-count", type=int, default=1200)
    parser.add_argument("--profile", action="store_true", help="also py-spy the gateways in one more max run")
    args = parser.parse_args()
    name = "intake" if args.agencies == 1 else f"intake-{args.agencies}-agencies"
    run_and_record(name, lambda base: run(args, base))


if __name__ == "__main__":
    main()
