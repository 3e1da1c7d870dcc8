"""Outage (real PostgreSQL of its own, stopped and started under a live app): 503 with Retry-After while the
database is away, never a hang, and recovery without restarting the gateway."""

import asyncio
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from gateway.app import create_app
from gateway.runtime import ensure_database
from gateway.settings import Settings
from gateway.store.embedded import EmbeddedPostgres
from tests.conftest import SECRET, make_org
from tests.samples import postal_dossier

OUTAGE_DATABASE = "motcua_outage"
BOUND_SECONDS = 15  # the longest any single answer may take while the database is down


@pytest.fixture
async def server() -> AsyncIterator[EmbeddedPostgres]:
    """A PostgreSQL server of this test's own, which the test may stop and start."""
    base = Path(tempfile.mkdtemp(prefix="motcua-outage-"))
    pg = EmbeddedPostgres(base, durable=False)
    try:
        await ensure_database(await asyncio.to_thread(pg.start), OUTAGE_DATABASE)
        yield pg
    finally:
        await asyncio.to_thread(pg.stop)
        shutil.rmtree(base, ignore_errors=True)


async def _file(client, org, key: str):
    async with asyncio.timeout(BOUND_SECONDS):
        return await client.post("/v1/dossiers", json=postal_dossier(), headers={**org.auth, "Idempotency-Key": key})


async def _assert_unavailable(response, code: str) -> dict:
    assert response.status == 503, await response.text()
    assert response.content_type == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    problem = await response.json()
    assert problem["code"] == code
    return problem


@pytest.mark.slow
async def test_database_outage_answers_503_quickly_and_recovers_by_itself(server, aiohttp_client):
    """While PostgreSQL is down, intake and readiness answer 503 problems with Retry-After within a bounded time;
    once it is back, the same app serves intake again without a restart."""
    url = server.url(OUTAGE_DATABASE)
    client = await aiohttp_client(create_app(Settings(database_url=url, secret_key=SecretStr(SECRET))))
    conn = await asyncpg.connect(url)
    try:
        postal = await make_org(conn, "Bưu điện Ba Đình", "postal", unit_code="00004")
    finally:
        await conn.close()
    before = await _file(client, postal, "before-outage")
    assert before.status == 201, await before.text()

    await asyncio.to_thread(server.stop)

    # More requests at once than the pool has connections: each gets its answer, none waits for the database.
    answers = await asyncio.gather(*(_file(client, postal, f"during-outage-{i}") for i in range(25)))
    for answer in answers:
        await _assert_unavailable(answer, "database.unavailable")
    async with asyncio.timeout(BOUND_SECONDS):
        ready = await client.get("/readyz")
    problem = await _assert_unavailable(ready, "service.not_ready")
    assert problem["checks"]["database"] == "unreachable"

    await asyncio.to_thread(server.start)

    after = await _file(client, postal, "during-outage-0")  # the client's retry, with the same key
    assert after.status == 201, await after.text()
    assert after.headers.get("Idempotent-Replayed") is None
    assert (await after.json())["code"] != (await before.json())["code"]
    async with asyncio.timeout(BOUND_SECONDS):
        ready = await client.get("/readyz")
    assert ready.status == 200, await ready.text()


def _cluster_pids(server: EmbeddedPostgres) -> list[int]:
    """The postmaster and every process it forked (backends, checkpointer, …)."""
    postmaster = int((server.pgdata / "postmaster.pid").read_text().split()[0])
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return [postmaster, *map(int, children)]


@pytest.mark.slow
async def test_frozen_database_answers_503_within_the_timeouts(server, aiohttp_client):
    """When PostgreSQL stops answering without closing connections (a frozen host), a burst of intakes larger
    than the pool still gets 503 answers bounded by the command and acquire timeouts, not a growing queue."""
    url = server.url(OUTAGE_DATABASE)
    settings = Settings(
        database_url=url, secret_key=SecretStr(SECRET), db_command_timeout=2, db_acquire_timeout=2, db_pool_max=2
    )
    client = await aiohttp_client(create_app(settings))
    conn = await asyncpg.connect(url)
    try:
        postal = await make_org(conn, "Bưu điện Ba Đình", "postal", unit_code="00004")
    finally:
        await conn.close()
    assert (await _file(client, postal, "before-freeze")).status == 201

    pids = _cluster_pids(server)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        # Each answer must come within BOUND_SECONDS (see _file); without an acquire timeout the requests
        # queued behind the frozen connections wait their turn, one command timeout each, and break it.
        answers = await asyncio.gather(*(_file(client, postal, f"frozen-{i}") for i in range(30)))
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    for answer in answers:
        await _assert_unavailable(answer, "database.unavailable")

    after = await _file(client, postal, "after-freeze")
    assert after.status == 201, await after.text()
