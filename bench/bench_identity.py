"""Identity verification throughput, with and without the cache, beside a plain signed zeep call to a trivial
operation (Ping) of the same simulator, all in one process and one run.

Run: .venv/bin/python -m bench.bench_identity [--calls N]

Everything is real: a private PostgreSQL (the cache and audit live there), the simulator on a real socket,
signed SOAP both ways. The simulator runs in the same process, so all three figures share its cost.
"""

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from bench.harness import run_and_record
from bench.machine import describe
from gateway.app import build_services
from gateway.register import RegisterConnection, identity_config
from gateway.runtime import ensure_database
from gateway.schemas import Applicant
from gateway.settings import Settings
from gateway.store.db import create_pool
from gateway.store.embedded import EmbeddedPostgres, free_port
from gateway.store.migrate import migrate
from gateway.workflow import identity
from identity.client import SoapPopulationRegister
from identity.keys import create_demo_keys
from identity.simulator import SimulatorConfig, generate_population, start_simulator


def _applicants(count: int) -> list[Applicant]:
    people = [p for p in generate_population(10_000) if p.birth_date is not None][:count]
    return [
        Applicant(
            id_number=p.id_number,
            full_name=p.full_name,
            date_of_birth=p.birth_date,
            sex=p.sex,
            phone="0912345678",
            residence={"unit_code": "00004", "address_line": "-"},
        )
        for p in people
    ]


async def _measure(calls: int, work) -> tuple[float, list[float]]:
    latencies = []
    started = time.perf_counter()
    for i in range(calls):
        t = time.perf_counter()
        await work(i)
        latencies.append((time.perf_counter() - t) * 1000)
    return time.perf_counter() - started, latencies


def _line(name: str, calls: int, total: float, latencies: list[float], baseline: float | None) -> str:
    p50 = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98]
    ratio = f"; time per call vs Ping baseline {total / baseline:.2f}x" if baseline else ""
    return f"{name}: {calls / total:,.0f}/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms{ratio}"


async def run(calls: int, base: Path) -> str:
    server = EmbeddedPostgres(base / "pg", durable=False)
    admin_url = await asyncio.to_thread(server.start)
    runner = None
    try:
        await ensure_database(admin_url, "bench")
        keys = create_demo_keys(base / "keys")
        port = free_port()
        runner, url = await start_simulator(
            SimulatorConfig(
                key_file=keys["register.key"],
                cert_file=keys["register.crt"],
                trusted_client_certs=(keys["gateway.crt"],),
            ),
            port=port,
        )
        settings = Settings(
            database_url=server.url("bench"),
            secret_key=SecretStr("b" * 40),
            identity_url=url,
            identity_key_file=keys["gateway.key"],
            identity_cert_file=keys["gateway.crt"],
            identity_trusted_certs=[keys["register.crt"]],
        )
        services = build_services(settings)
        services.pool = await create_pool(settings, settings.database_url, services.personal)
        async with services.pool.acquire() as conn:
            await migrate(conn)
        services.register = RegisterConnection(identity_config(settings))
        plain = await SoapPopulationRegister.create(identity_config(settings))
        applicants = _applicants(calls)

        async def ping(_: int) -> None:
            await plain.ping()

        async def verify_and_cache(i: int) -> None:
            verification = await identity.verify(services, "ORG-1", None, applicants[i])
            assert verification.status == "verified", verification
            async with services.connection() as conn:  # what intake records: evidence, audit, cache
                await identity.record(services, conn, verification, dossier_id=None, organisation_id=None)

        async def verify_cached(i: int) -> None:
            assert (await identity.verify(services, "ORG-1", None, applicants[i])).evidence_id is not None

        await ping(0)  # connections and WSDL warm
        ping_total, ping_lat = await _measure(calls, ping)
        miss_total, miss_lat = await _measure(calls, verify_and_cache)
        hit_total, hit_lat = await _measure(calls, verify_cached)
        await plain.close()
        await services.register.close()
        await services.pool.close()
        return "\n".join(
            [
                f"command: .venv/bin/python -m bench.bench_identity --calls {calls}",
                f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                f"machine: {describe()}",
                "sequential calls, simulator with 10,000 citizens in the same process, signed SOAP both ways",
                _line("baseline: plain zeep Ping (signed)", calls, ping_total, ping_lat, None),
                _line(
                    "verify, not cached (look-up + rules + evidence/audit/cache write)",
                    calls,
                    miss_total,
                    miss_lat,
                    ping_total,
                ),
                _line("verify, cached (one keyed-hash query)", calls, hit_total, hit_lat, ping_total),
            ]
        )
    finally:
        if runner is not None:
            await runner.cleanup()
        await asyncio.to_thread(server.stop)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    count = parser.parse_args().calls
    run_and_record("identity", lambda base: run(count, base))


if __name__ == "__main__":
    main()
