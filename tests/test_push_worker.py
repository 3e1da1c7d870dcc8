"""Integration: pushes to agencies driven by the real outbox worker (real PostgreSQL, the agency simulator on a
real port): delivered once in effect, held while the agency is down and drained in order when it returns,
dead-lettered past the budget and replayed."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.agency.simulator import AgencySimulatorConfig, start_agency_simulator
from gateway.app import create_app
from gateway.store import endpoints
from tests.agency_simulator import simulator
from tests.samples import file_dossier, postal_dossier

AGENCY = "000.00.10.H26"


@pytest.fixture
async def gateway(aiohttp_client, settings):
    fast = settings.model_copy(update={"worker_poll_seconds": 0.05, "delivery_timeout_seconds": 2.0})
    return await aiohttp_client(create_app(fast, with_worker=True))


@pytest.fixture
async def agency(gateway, db) -> AsyncIterator[str]:
    config = AgencySimulatorConfig(jwks_url=str(gateway.make_url("/.well-known/jwks.json")), agency_code=AGENCY)
    runner, url = await start_agency_simulator(config)
    await endpoints.set_endpoint(db, AGENCY, f"{url}/inbox")
    yield url
    await runner.cleanup()


async def _file(client, orgs, key: str) -> str:
    """Filed and its files uploaded: the upload queues the push."""
    return (await file_dossier(client, orgs.postal, postal_dossier(), key))["code"]


async def _until(predicate, seconds: float = 20.0):
    async with asyncio.timeout(seconds):
        while not (result := await predicate()):  # noqa: ASYNC110 - polling a peer over HTTP, as an operator would
            await asyncio.sleep(0.05)
    return result


async def test_the_worker_pushes_each_dossier_once_signed(gateway, agency, orgs, db):
    """Filed dossiers reach the agency by push, each message id once, with a signature the agency verified,
    the agency's answer kept as receipt and the dossier marked forwarded."""
    codes = [await _file(gateway, orgs, f"k{i}") for i in range(5)]
    seen = await _until(lambda: _full(agency, 5))
    assert sorted(seen["dossiers"]) == sorted(codes)
    assert set(seen["messages"].values()) == {1} and not seen["rejected"]

    async def settled() -> bool:  # the agency has answered; the worker records the answer just after
        return not await db.fetchval(
            "SELECT count(*) FROM outbox WHERE kind = 'agency.deliver' AND status <> 'delivered'"
        )

    await _until(settled)
    rows = await db.fetch("SELECT status, receipt FROM outbox WHERE kind = 'agency.deliver'")
    assert {r["status"] for r in rows} == {"delivered"} and all(r["receipt"] for r in rows)
    statuses = {r["status"] for r in await db.fetch("SELECT status FROM dossiers")}
    assert statuses == {"forwarded"}


async def _full(url: str, count: int) -> dict | None:
    seen = await simulator(url)
    return seen if len(seen["messages"]) >= count else None


async def test_an_agency_down_for_a_while_gets_its_messages_when_it_returns(gateway, agency, orgs):
    """While the agency answers 503 nothing is lost; when it returns the waiting dossiers arrive, once each."""
    await simulator(agency, {"mode": "down", "seconds": 1.5})
    codes = [await _file(gateway, orgs, f"d{i}") for i in range(3)]
    seen = await _until(lambda: _full(agency, 3), seconds=40)
    assert sorted(seen["dossiers"]) == sorted(codes) and set(seen["messages"].values()) == {1}


async def test_past_the_budget_pushes_go_dead_and_replay_delivers_them(gateway, agency, orgs, db):
    """An agency erroring past the retry budget dead-letters the push; once it works again, replay delivers."""
    await simulator(agency, {"mode": "error"})
    code = await _file(gateway, orgs, "dead-1")
    await db.execute("UPDATE outbox SET budget_from = now() - interval '10 days' WHERE kind = 'agency.deliver'")
    message_id = await _until(
        lambda: db.fetchval("SELECT message_id FROM outbox WHERE kind = 'agency.deliver' AND status = 'dead'")
    )
    await simulator(agency, {"mode": "accept"})
    replayed = await gateway.post(f"/v1/admin/outbox/{message_id}/replay", headers=orgs.admin.auth)
    assert replayed.status == 200, await replayed.text()
    seen = await _until(lambda: _full(agency, 1))
    assert seen["dossiers"] == [code]


async def test_while_work_keeps_coming_an_idle_worker_looks_again_soon(aiohttp_client, settings, orgs, db):
    """With a 3 s idle poll, a worker that has just pushed one dossier takes the next one, filed half a second
    later, within 1.5 s: for a few seconds after work it looks every ACTIVE_POLL_SECONDS, not every 3 s."""
    slow_poll = settings.model_copy(update={"worker_poll_seconds": 3.0, "delivery_timeout_seconds": 2.0})
    client = await aiohttp_client(create_app(slow_poll, with_worker=True))
    config = AgencySimulatorConfig(jwks_url=str(client.make_url("/.well-known/jwks.json")), agency_code=AGENCY)
    runner, url = await start_agency_simulator(config)
    try:
        await endpoints.set_endpoint(db, AGENCY, f"{url}/inbox")

        async def received(n: int):
            return len((await simulator(url))["dossiers"]) >= n

        await _file(client, orgs, "active-1")
        await _until(lambda: received(1), seconds=10)  # within one 3 s poll
        await asyncio.sleep(0.5)  # the worker has found nothing more since: without the active poll, asleep 3 s
        await _file(client, orgs, "active-2")
        await _until(lambda: received(2), seconds=1.5)
    finally:
        await runner.cleanup()
