"""Integration (real PostgreSQL, real HTTP, the population-database simulator on a real socket): identity
verification in the intake path, its evidence, audit and cache, and the degraded path when the register is
away."""

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.keys import SERVICES
from gateway.settings import Settings
from gateway.store import identity as identity_store
from gateway.store.embedded import free_port
from identity.keys import create_demo_keys
from identity.simulator import SimulatorConfig, start_simulator
from tests.samples import postal_dossier, upload_documents

POPULATION = 300  # the fixtures are always in it; a small population starts fast


@dataclass
class Register:
    """The simulator as a test drives it: its URL, its keys, and its fault queue."""

    url: str
    keys: dict[str, Path]
    runner: object
    port: int

    async def fail_next(self, *faults: str) -> None:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{self.url.rstrip('/')}/_simulator/faults", json={"next": list(faults)}) as answer:
                assert answer.status < 300, await answer.text()


def _simulator_config(keys: dict[str, Path]) -> SimulatorConfig:
    return SimulatorConfig(
        key_file=keys["register.key"],
        cert_file=keys["register.crt"],
        trusted_client_certs=(keys["gateway.crt"],),
        population_size=POPULATION,
        slow_seconds=3.0,
    )


@pytest.fixture
async def register(tmp_path) -> AsyncIterator[Register]:
    keys = create_demo_keys(tmp_path / "keys")
    runner, url = await start_simulator(_simulator_config(keys))
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    yield Register(url, keys, runner, port)
    await runner.cleanup()


def identity_settings(settings: Settings, register: Register, **changes) -> Settings:
    return settings.model_copy(
        update={
            "identity_url": register.url,
            "identity_key_file": register.keys["gateway.key"],
            "identity_cert_file": register.keys["gateway.crt"],
            "identity_trusted_certs": [register.keys["register.crt"]],
            "identity_timeout_seconds": 1.0,
            **changes,
        }
    )


@pytest.fixture
async def verified_client(aiohttp_client, settings, register) -> TestClient:
    return await aiohttp_client(create_app(identity_settings(settings, register)))


async def _file(client, org, key: str, **changes):
    body = postal_dossier()
    body["applicant"] |= changes
    answer = await client.post("/v1/dossiers", json=body, headers={**org.auth, "Idempotency-Key": key})
    if answer.status == 201:  # a filed dossier goes on once its files are there: send them as a post office does
        await upload_documents(client, org, await answer.json())
    return answer


async def test_a_known_applicant_is_verified_with_signed_evidence_and_an_audit_row(verified_client, orgs, db, personal):
    """The sample applicant is in the register: the dossier is verified, the signed answer is kept with its hash,
    sealed (it names the citizen) and read back whole, and the call is audited with the dossier, the officer,
    the request id, the outcome and the latency."""
    answer = await _file(verified_client, orgs.postal, "v1")
    assert answer.status == 201, await answer.text()
    assert (await answer.json())["identity_status"] == "verified"
    row = await db.fetchrow(
        "SELECT d.identity_status, d.identity_evidence_id, e.signed_xml, e.sha256, e.request_id FROM dossiers d"
        " JOIN identity_evidence e ON e.id = d.identity_evidence_id"
    )
    assert row["identity_status"] == "verified"
    assert b"Signature" not in row["signed_xml"] and b"001090123456" not in row["signed_xml"]
    signed_xml = await identity_store.read_evidence(db, personal, row["identity_evidence_id"])
    assert hashlib.sha256(signed_xml).digest() == row["sha256"]
    assert b"Signature" in signed_xml and row["request_id"].encode() in signed_xml
    audit = await db.fetchrow("SELECT * FROM identity_checks")
    assert (audit["outcome"], audit["officer"], audit["request_id"]) == (
        "verified",
        f"ORG-{orgs.postal.id}/KEY-{orgs.postal.key.split('_')[1]}",
        row["request_id"],
    )
    assert audit["dossier_id"] is not None and audit["latency_ms"] > 0


async def test_a_verified_result_is_reused_from_the_cache_under_a_keyed_hash(verified_client, orgs, db):
    """A second dossier of the same applicant is verified from the cache (audited as cached, same evidence),
    and the cache key holds none of the personal data."""
    assert (await _file(verified_client, orgs.postal, "c1")).status == 201
    second = await _file(verified_client, orgs.postal, "c2")
    assert (await second.json())["identity_status"] == "verified"
    outcomes = [r["outcome"] for r in await db.fetch("SELECT outcome FROM identity_checks ORDER BY id")]
    assert outcomes == ["verified", "cached"]
    assert await db.fetchval("SELECT count(DISTINCT identity_evidence_id) FROM dossiers") == 1
    assert await db.fetchval("SELECT count(*) FROM dossiers WHERE identity_evidence_id IS NULL") == 0
    key = await db.fetchval("SELECT key FROM identity_cache")
    assert len(key) == 32 and b"001090123456" not in key and "001090123456" not in key.hex()


async def test_a_mismatch_refuses_the_intake_without_leaking_the_register(verified_client, orgs, db):
    """A name the register does not know for this ID number is 422 identity.mismatch saying what differs,
    never what the register holds; the refusal is audited and nothing else is stored."""
    answer = await _file(verified_client, orgs.postal, "m1", full_name="Trần Thị Bích")
    assert answer.status == 422
    problem = await answer.json()
    assert problem["code"] == "identity.mismatch"
    assert "Họ và tên" in problem["detail"] or "họ tên" in problem["detail"].lower()
    assert "Nguyễn" not in json.dumps(problem, ensure_ascii=False)
    assert await db.fetchval("SELECT count(*) FROM dossiers") == 0
    assert (
        await db.fetchval("SELECT count(*) FROM identity_checks WHERE dossier_id IS NULL AND outcome = 'mismatch'") == 1
    )
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0  # the key is free for a corrected dossier


async def test_an_unknown_id_number_is_a_mismatch(verified_client, orgs):
    """An ID number the register does not have is refused as identity.mismatch."""
    answer = await _file(verified_client, orgs.postal, "n1", id_number="001090000001")
    assert answer.status == 422 and (await answer.json())["code"] == "identity.mismatch"


async def test_a_name_matching_only_without_diacritics_needs_the_officers_confirmation(verified_client, orgs):
    """'Nguyen Van An' matches the register only without diacritics: refused until the officer confirms it,
    then accepted as partial_confirmed."""
    refused = await _file(verified_client, orgs.postal, "p1", full_name="Nguyen Van An")
    assert refused.status == 422
    assert (await refused.json())["errors"][0]["type"] == "identity.name_partial"
    accepted = await _file(verified_client, orgs.postal, "p2", full_name="Nguyen Van An", name_match_confirmed=True)
    assert accepted.status == 201, await accepted.text()
    assert (await accepted.json())["identity_status"] == "partial_confirmed"


@pytest.mark.parametrize(
    "fault", ["down", "slow", "unsigned", "wrong_key", "stale", "replayed", "tampered", "malformed"]
)
async def test_an_unusable_answer_leaves_the_dossier_pending(verified_client, register, orgs, db, fault):
    """Whatever goes wrong with the register's answer, the dossier is accepted with identity pending, the
    attempt is audited with its reason, and a retry is queued."""
    await register.fail_next(fault)
    answer = await _file(verified_client, orgs.postal, f"f-{fault}")
    assert answer.status == 201, await answer.text()
    assert (await answer.json())["identity_status"] == "pending"
    audit = await db.fetchrow("SELECT outcome, error_code FROM identity_checks")
    assert audit["outcome"] == ("untrusted" if fault not in ("down", "slow") else "unavailable")
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'identity.verify' AND status = 'pending'") == 1


async def _inbox(client, orgs) -> list[dict]:
    return (await (await client.get("/v1/agency/inbox", headers=orgs.agency.auth)).json())["items"]


@pytest.mark.slow
async def test_register_down_during_intake_then_back_verifies_and_forwards(register, aiohttp_client, settings, orgs):
    """With the register down the dossier is accepted pending and held back from the agency; once the register
    is back the worker verifies it and the agency receives it, verified, with the step in the timeline."""
    client = await aiohttp_client(
        create_app(identity_settings(settings, register, worker_poll_seconds=0.1), with_worker=True)
    )
    await register.fail_next("down")  # down for the intake's look-up, back for the worker's retry
    filed = await _file(client, orgs.postal, "down-1")
    assert filed.status == 201 and (await filed.json())["identity_status"] == "pending"
    code = (await filed.json())["code"]
    async with asyncio.timeout(30):
        while not (items := await _inbox(client, orgs)):  # noqa: ASYNC110 - polling the agency's HTTP inbox, as an agency does
            await asyncio.sleep(0.2)
    assert items[0]["dossier_code"] == code and items[0]["identity_status"] == "verified"
    events = await (await client.get(f"/v1/dossiers/{code}/events", headers=orgs.postal.auth)).json()
    assert "identity_verified" in [e["type"] for e in events["items"]]


async def test_delivery_waits_while_the_verification_is_pending(register, aiohttp_client, settings, orgs):
    """A pending dossier is not in the agency inbox before the wait limit, unless the verification ends."""
    client = await aiohttp_client(create_app(identity_settings(settings, register)))
    await register.fail_next("down")
    filed = await _file(client, orgs.postal, "wait-1")
    assert (await filed.json())["identity_status"] == "pending"
    assert await _inbox(client, orgs) == []


async def test_forwarding_goes_on_flagged_after_the_wait_limit(register, aiohttp_client, settings, orgs):
    """When the verification has not come by the wait limit, the agency receives the dossier flagged pending."""
    client = await aiohttp_client(create_app(identity_settings(settings, register, identity_wait_limit_seconds=0)))
    await register.fail_next("down")
    filed = await _file(client, orgs.postal, "limit-1")
    assert (await filed.json())["identity_status"] == "pending"
    items = await _inbox(client, orgs)
    assert [(i["dossier_code"], i["identity_status"]) for i in items] == [((await filed.json())["code"], "pending")]


@pytest.fixture
async def late_register(tmp_path) -> AsyncIterator[Register]:
    """A register whose port is known but on which nothing listens until the test starts it."""
    keys = create_demo_keys(tmp_path / "late-keys")
    port = free_port()
    holder = Register(f"http://127.0.0.1:{port}/", keys, None, port)
    yield holder
    if holder.runner is not None:
        await holder.runner.cleanup()


async def test_register_unreachable_at_start_up_does_not_stop_the_gateway(
    late_register, aiohttp_client, settings, orgs
):
    """A gateway started while the register is away serves intake (pending), and loads the WSDL once it is back."""
    client = await aiohttp_client(create_app(identity_settings(settings, late_register)))
    assert (await (await _file(client, orgs.postal, "s1")).json())["identity_status"] == "pending"
    late_register.runner, _ = await start_simulator(_simulator_config(late_register.keys), port=late_register.port)
    second = await _file(client, orgs.postal, "s2")
    assert (await second.json())["identity_status"] == "verified"


async def test_a_cmnd_number_travels_as_a_secondary_identifier(verified_client, orgs, db, personal):
    """An applicant may add the old 9-digit CMND number; it goes to the register as SoCMND beside the 12-digit
    number, which stays the identifier the check is made on."""
    answer = await _file(verified_client, orgs.postal, "cmnd-1", cmnd_number="012345678")
    assert answer.status == 201, await answer.text()
    signed = await identity_store.read_evidence(db, personal, await db.fetchval("SELECT id FROM identity_evidence"))
    assert b"001090123456" in signed
    body = personal.loads(await db.fetchval("SELECT body FROM dossiers"))
    assert body["applicant"]["cmnd_number"] == "012345678"


async def test_an_intake_makes_seven_statements_fresh_or_cached(register, aiohttp_client, settings, orgs, db):
    """Round trips to PostgreSQL are what an intake's time goes to (bench/README.md): the key, the idempotency
    claim, the identity cache, then BEGIN, the dossier's code, ONE statement writing the rest, COMMIT. Counted
    with asyncpg's own query logger on the pool's one connection, for a fresh verification and a cached one,
    and checked to have written what the statements replaced one by one."""
    client = await aiohttp_client(create_app(identity_settings(settings, register, db_pool_max=1, db_pool_min=1)))
    pool = client.app[SERVICES].pool
    statements: list[str] = []
    async with pool.acquire() as conn:
        conn.add_query_logger(lambda record: statements.append(" ".join(record.query.split())[:40]))
    # The first intake of a process also has asyncpg look up the statements' types: another applicant's.
    khoi = {"id_number": "840203004567", "full_name": "Lê Minh Khôi", "date_of_birth": "2003-02-11", "sex": "male"}
    warm_up = postal_dossier()
    warm_up["applicant"] |= khoi
    answer = await client.post("/v1/dossiers", json=warm_up, headers={**orgs.postal.auth, "Idempotency-Key": "rt-0"})
    assert answer.status == 201, await answer.text()
    for key in ("rt-fresh", "rt-cached"):
        statements.clear()
        body = postal_dossier()
        answer = await client.post("/v1/dossiers", json=body, headers={**orgs.postal.auth, "Idempotency-Key": key})
        assert answer.status == 201, await answer.text()
        assert (await answer.json())["identity_status"] == "verified"
        assert len(statements) == 7, statements
        assert statements[3:] == ["BEGIN;", statements[4], statements[5], "COMMIT;"], statements
        assert statements[5].startswith("WITH evidence AS")
    evidence = [row["identity_evidence_id"] for row in await db.fetch("SELECT * FROM dossiers ORDER BY id")]
    assert len(evidence) == 3 and evidence[1] == evidence[2] != evidence[0] and None not in evidence
    outcomes = [row["outcome"] for row in await db.fetch("SELECT outcome FROM identity_checks ORDER BY id")]
    assert outcomes == ["verified", "verified", "cached"]
    for table, rows in {
        "dossier_events": 3,
        "dossier_steps": 3,
        "identity_evidence": 2,
        "identity_cache": 2,
        "s10_used": 1,  # the sample's one S10 number
    }.items():
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == rows, table
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'dvcqg.sync_dossier'") == 3
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE state = 'done'") == 3
