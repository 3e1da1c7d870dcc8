"""Outage with work in flight (a PostgreSQL of the test's own, restarted under a live gateway and worker): while
it is down intake answers 503 with Retry-After and nothing hangs; once it is back, the gateway serves again and
the worker drains every push that was waiting, without a restart of either."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from pydantic import SecretStr

from adapters.agency.simulator import AgencySimulatorConfig, start_agency_simulator
from gateway.app import create_app
from gateway.runtime import ensure_database
from gateway.settings import Settings
from gateway.store import endpoints
from gateway.store.embedded import EmbeddedPostgres
from tests.agency_simulator import simulator
from tests.conftest import SECRET, make_org
from tests.samples import postal_dossier, upload_documents

AGENCY = "000.00.10.H26"
DATABASE = "motcua_drain"


@pytest.fixture
async def server(open_tmp_path: Path) -> AsyncIterator[EmbeddedPostgres]:
    pg = EmbeddedPostgres(open_tmp_path / "pg", durable=False)
    try:
        await ensure_database(await asyncio.to_thread(pg.start), DATABASE)
        yield pg
    finally:
        await asyncio.to_thread(pg.stop)


@pytest.mark.slow
async def test_postgres_restarted_mid_run_then_the_worker_drains(server, aiohttp_client, open_tmp_path):
    """Dossiers filed before the restart and after it all reach the agency; during it intake is a bounded 503."""
    url = server.url(DATABASE)
    settings = Settings(
        database_url=url,
        secret_key=SecretStr(SECRET),
        worker_poll_seconds=0.05,
        db_acquire_timeout=2,
        db_command_timeout=2,
        data_dir=open_tmp_path / "data",
    )
    client = await aiohttp_client(create_app(settings, with_worker=True))
    agency_runner, agency_url = await start_agency_simulator(
        AgencySimulatorConfig(jwks_url=str(client.make_url("/.well-known/jwks.json")), agency_code=AGENCY)
    )
    try:
        conn = await asyncpg.connect(url)
        try:
            postal = await make_org(conn, "Bưu điện Ba Đình", "postal", unit_code="00004")
            await endpoints.set_endpoint(conn, AGENCY, f"{agency_url}/inbox")
        finally:
            await conn.close()

        async def file(key: str) -> aiohttp.ClientResponse:
            async with asyncio.timeout(15):  # never a hang
                answer = await client.post(
                    "/v1/dossiers", json=postal_dossier(), headers={**postal.auth, "Idempotency-Key": key}
                )
                if answer.status == 201:  # its file, so that it is forwarded
                    await upload_documents(client, postal, await answer.json())
                return answer

        before = await file("before")
        assert before.status == 201, await before.text()
        await asyncio.to_thread(server.stop)
        during = await file("during")
        assert during.status == 503 and int(during.headers["Retry-After"]) > 0
        assert (await during.json())["code"] == "database.unavailable"
        await asyncio.to_thread(server.start)
        after = await file("after")
        assert after.status == 201, await after.text()
        again = await file("during")  # the client's retry of the refused request
        assert again.status == 201, await again.text()

        codes = {(await r.json())["code"] for r in (before, after, again)}
        async with asyncio.timeout(30):
            while set((seen := await simulator(agency_url))["dossiers"]) != codes:  # noqa: ASYNC110 - polling a peer
                await asyncio.sleep(0.1)
        assert set(seen["messages"].values()) == {1}
    finally:
        await agency_runner.cleanup()
