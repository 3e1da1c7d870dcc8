"""Push crash (the gateway and an outbox worker as real processes on the test database, the agency simulator on a
real port): while dossiers are filed and their files uploaded, the worker is killed with SIGKILL twice and the
gateway once, each restarted. Every dossier answered 201 (its file sent until an upload is answered) reaches the
agency, under one message id, the agency deduping any re-send; every delivery row ends delivered with the
agency's receipt, and every dossier has exactly one 'received' and one 'document_received' event."""

import asyncio
import random

import aiohttp
import pytest

from adapters.agency.simulator import AgencySimulatorConfig, start_agency_simulator
from gateway import jws
from gateway.store import endpoints
from tests.conftest import SECRET, make_org
from tests.filing import upload_documents_to
from tests.processes import MotcuaProcess, WorkerProcess, motcua_env
from tests.samples import postal_dossier

AGENCY = "000.00.10.H26"  # where postal_dossier() routes
N = 40


async def _received(session: aiohttp.ClientSession, url: str) -> dict:
    async with session.get(f"{url}/_simulator/received") as answer:
        return await answer.json()


async def _until(predicate, seconds: float):
    async with asyncio.timeout(seconds):
        while not (result := await predicate()):  # noqa: ASYNC110 - polling peers, as an operator would
            await asyncio.sleep(0.05)
    return result


@pytest.mark.slow
async def test_killed_workers_and_gateway_lose_and_duplicate_no_push(db, db_url, tmp_path):
    """N dossiers filed while the worker is SIGKILLed twice and the gateway once (each restarted) all reach the
    agency, one message id per dossier; a re-send after a kill reuses the id and the agency dedupes it."""
    key_file = tmp_path / "keys" / "delivery.key"
    jws.create_key_file(key_file)
    env = {
        "MOTCUA_DATABASE_URL": db_url,
        "MOTCUA_SECRET_KEY": SECRET,
        "MOTCUA_DELIVERY_KEY_FILE": str(key_file),
        "MOTCUA_WORKER_POLL_SECONDS": "0.05",
        "MOTCUA_IDEMPOTENCY_LEASE_SECONDS": "1",
        "MOTCUA_WORKER_LEASE_SECONDS": "3",  # a killed worker's claims come back quickly
        "MOTCUA_DATA_DIR": str(tmp_path / "data"),  # the content store of the uploads
    }
    postal = await make_org(db, "Bưu điện Ba Đình", "postal", unit_code="00004")
    gateway = MotcuaProcess("serve", tmp_path / "gateway.log", motcua_env(**env))
    worker = WorkerProcess(tmp_path / "worker.log", motcua_env(**env))
    sim_runner = None
    answered: dict[str, str] = {}  # Idempotency-Key -> dossier code answered 201
    kills: list[str] = []
    rng = random.Random()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await gateway.start(session)
            # The simulator fetches the JWKS once and caches it; after a restart the gateway is on another port,
            # but it publishes the same key (same kid), so the cached key suffices and no refetch is needed.
            config = AgencySimulatorConfig(jwks_url=f"{gateway.base}/.well-known/jwks.json", agency_code=AGENCY)
            sim_runner, sim_url = await start_agency_simulator(config)
            await endpoints.set_endpoint(db, AGENCY, f"{sim_url}/inbox")
            await worker.start()

            async def file(key: str) -> None:
                body = postal_dossier()
                receipt = None
                async with asyncio.timeout(30):
                    while True:
                        try:
                            if receipt is None:
                                async with session.post(
                                    f"{gateway.base}/v1/dossiers",
                                    json=body,
                                    headers={**postal.auth, "Idempotency-Key": key},
                                ) as response:
                                    answer = await response.json(content_type=None)
                                    if response.status == 201:
                                        answered[key] = answer["code"]
                                        receipt = answer
                                    else:
                                        assert response.status == 409, answer
                                        assert answer["code"] == "idempotency.in_flight", answer
                            if receipt is not None:  # the file, until an upload is answered (a PUT: safe to repeat)
                                await upload_documents_to(session, gateway.base, postal.auth, receipt)
                                return
                        except (aiohttp.ClientError, TimeoutError):
                            pass  # the gateway is down or was killed mid-request: try again, same key
                        await asyncio.sleep(0.2)

            async def filer(keys: list[str]) -> None:
                for key in keys:
                    await file(key)
                    await asyncio.sleep(rng.uniform(0.15, 0.35))

            async def kill_worker() -> None:
                await worker.kill()
                kills.append(f"worker after {len(answered)} answers")
                await worker.start()

            async def behave(mode: str, seconds: float | None = None) -> None:
                body = {"mode": mode} | ({"seconds": seconds} if seconds is not None else {})
                async with session.post(f"{sim_url}/_simulator/behaviour", json=body) as answer:
                    assert answer.status == 200, await answer.text()

            async def chaos() -> None:
                # Wait for the first push, so the simulator has the keys cached while the gateway is away.
                await _until(lambda: _first(session, sim_url), 20)
                # A slow agency keeps the worker mid-push most of the time, so a kill usually lands during a
                # push; the agency finishes the request it had and records it, and the re-send after the
                # restart (same message id) is one it has seen.
                await behave("slow", 0.25)
                await asyncio.sleep(rng.uniform(0.1, 0.6))
                await kill_worker()
                await asyncio.sleep(rng.uniform(0.1, 0.6))
                gateway.kill()
                kills.append(f"gateway after {len(answered)} answers")
                await gateway.process.wait()
                await gateway.start(session)
                await asyncio.sleep(rng.uniform(0.1, 0.6))
                await kill_worker()
                await behave("accept")

            keys = [f"push-crash-{i:02d}" for i in range(N)]
            async with asyncio.timeout(45):
                await asyncio.gather(filer(keys[0::2]), filer(keys[1::2]), chaos())

            async def all_pushed() -> dict | None:
                seen = await _received(session, sim_url)
                return seen if len(set(seen["dossiers"])) >= N else None

            seen = await _until(all_pushed, 40)

            async def all_marked() -> bool:
                return not await db.fetchval(
                    "SELECT count(*) FROM outbox WHERE kind = 'agency.deliver'"
                    " AND (status <> 'delivered' OR receipt IS NULL)"
                )

            await _until(all_marked, 20)
    finally:
        await worker.stop()
        await gateway.stop()
        if sim_runner is not None:
            await sim_runner.cleanup()

    codes = set(answered.values())
    assert len(answered) == len(codes) == N
    assert set(seen["dossiers"]) == codes, "a dossier answered 201 never reached the agency"
    assert len(seen["dossiers"]) == N  # the simulator records a dossier once per message id
    assert len(seen["messages"]) == N, "a re-send used a new message id"
    duplicates = sum(count - 1 for count in seen["messages"].values())
    print(f"\npush crash: kills {kills}; re-sends deduped by the agency: {duplicates}")

    rows = await db.fetch(
        "SELECT o.status, o.receipt, d.code FROM outbox o JOIN dossiers d ON d.id = o.dossier_id"
        " WHERE o.kind = 'agency.deliver'"
    )
    assert len(rows) == N and {row["code"] for row in rows} == codes
    assert all(row["status"] == "delivered" and row["receipt"] for row in rows)
    received = await db.fetch(
        "SELECT d.code, count(e.id) AS events FROM dossiers d"
        " LEFT JOIN dossier_events e ON e.dossier_id = d.id AND e.type = 'received' GROUP BY d.code"
    )
    assert {row["code"] for row in received} == codes
    assert {row["events"] for row in received} == {1}
    arrivals = await db.fetch(
        "SELECT d.code, count(e.id) AS events FROM dossiers d"
        " LEFT JOIN dossier_events e ON e.dossier_id = d.id AND e.type = 'document_received' GROUP BY d.code"
    )
    assert {row["events"] for row in arrivals} == {1}


async def _first(session: aiohttp.ClientSession, url: str) -> bool:
    return bool((await _received(session, url))["messages"])
