"""Push delivery (issue 5): JWS signatures, key rotation, and the signed POST to an agency endpoint,
end to end against the real gateway (real PostgreSQL, real sockets) and the agency simulator."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.agency.simulator import AgencySimulatorConfig, start_agency_simulator
from gateway import jws
from gateway.app import create_app
from gateway.delivery_keys import DeliveryKeys, configured_keys, keys_for, load_delivery_keys
from gateway.keys import SERVICES
from gateway.settings import Settings
from gateway.store import endpoints
from gateway.workflow import deliver
from tests.agency_simulator import simulator
from tests.samples import file_dossier, postal_dossier

AGENCY = "000.00.10.H26"

# --- JWS --------------------------------------------------------------------------------------------------


def _jwks(*keys: Ed25519PrivateKey) -> dict:
    return {"keys": [jws.jwk(key.public_key()) for key in keys]}


def test_sign_and_verify_round_trip():
    key = Ed25519PrivateKey.generate()
    token = jws.sign(b'{"a":1}', key)
    header = jws.header_of(token)
    assert header == {"alg": "EdDSA", "kid": jws.key_id(key.public_key()), "typ": "JOSE"}
    assert "=" not in token and len(header["kid"]) == 16
    assert jws.verify(token, _jwks(key)) == b'{"a":1}'
    detached = jws.sign(b"body bytes", key, detached=True)
    assert detached.split(".")[1] == ""
    assert jws.verify(detached, _jwks(key), detached_payload=b"body bytes") == b"body bytes"
    entry = jws.jwk(key.public_key())
    assert entry["kty"] == "OKP" and entry["crv"] == "Ed25519" and len(jws.b64url_decode(entry["x"])) == 32


def test_rfc8037_example_signature():
    """RFC 8037 appendix A.4: the same key and payload give the published signature (Ed25519 is deterministic)."""
    private = Ed25519PrivateKey.from_private_bytes(jws.b64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
    assert jws.b64url(jws.raw_public(private.public_key())) == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    protected, payload = "eyJhbGciOiJFZERTQSJ9", jws.b64url(b"Example of Ed25519 signing")
    signature = jws.b64url(private.sign(f"{protected}.{payload}".encode()))
    assert signature == ("hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")


def test_tampered_body_and_signature_are_rejected():
    key = Ed25519PrivateKey.generate()
    token = jws.sign(b"original", key, detached=True)
    with pytest.raises(jws.JWSError, match="bad signature"):
        jws.verify(token, _jwks(key), detached_payload=b"originaL")
    attached = jws.sign(b"original", key)
    protected, _, signature = attached.split(".")
    with pytest.raises(jws.JWSError, match="bad signature"):
        jws.verify(f"{protected}.{jws.b64url(b'changed')}.{signature}", _jwks(key))
    with pytest.raises(jws.JWSError):
        jws.verify("not.a-token", _jwks(key))
    none_alg = jws.b64url(json.dumps({"alg": "none", "kid": jws.key_id(key.public_key())}).encode())
    with pytest.raises(jws.JWSError, match="unsupported alg"):
        jws.verify(f"{none_alg}.{jws.b64url(b'x')}.", _jwks(key))


def test_unknown_kid_is_rejected():
    signer, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    with pytest.raises(jws.JWSError, match="unknown kid"):
        jws.verify(jws.sign(b"x", signer), _jwks(other))
    # a key listed under the signer's kid but not its public key: the signature does not match
    forged = {"keys": [jws.jwk(other.public_key(), jws.key_id(signer.public_key()))]}
    with pytest.raises(jws.JWSError, match="bad signature"):
        jws.verify(jws.sign(b"x", signer), forged)


def test_rotation_publishes_old_and_new_keys(tmp_path: Path):
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    old, new = jws.create_key_file(old_file), jws.create_key_file(new_file)
    before = load_delivery_keys(DeliveryKeys(old_file))
    token_by_old = before.sign(b"in flight", detached=True)
    # during the overlap: sign with the new key, keep publishing the old one (its public PEM is enough)
    during = load_delivery_keys(DeliveryKeys(new_file, (old_file.with_suffix(".pub.pem"),)))
    assert during.kid == jws.key_id(new.public_key())
    assert [k["kid"] for k in during.jwks()["keys"]] == [during.kid, before.kid]
    assert jws.verify(token_by_old, during.jwks(), detached_payload=b"in flight") == b"in flight"
    assert jws.verify(during.sign(b"new", detached=True), during.jwks(), detached_payload=b"new") == b"new"
    after = load_delivery_keys(DeliveryKeys(new_file))
    with pytest.raises(jws.JWSError, match="unknown kid"):
        jws.verify(token_by_old, after.jwks(), detached_payload=b"in flight")
    assert jws.key_id(old.public_key()) == before.kid


async def test_jwks_route_serves_current_and_previous_keys(aiohttp_client, settings, tmp_path: Path):
    """The gateway publishes its signing key and, during a rotation, the previous one, cacheable for a while."""
    jws.create_key_file(tmp_path / "old.key")
    jws.create_key_file(tmp_path / "new.key")
    rotating = settings.model_copy(
        update={"delivery_key_file": tmp_path / "new.key", "delivery_published_keys": [tmp_path / "old.key"]}
    )
    client = await aiohttp_client(create_app(rotating))
    answer = await client.get("/.well-known/jwks.json")
    assert answer.status == 200
    assert "max-age" in answer.headers["Cache-Control"]
    kids = [key["kid"] for key in (await answer.json())["keys"]]
    assert kids == [
        jws.key_id(jws.load_public_key(tmp_path / "new.key")),
        jws.key_id(jws.load_public_key(tmp_path / "old.key")),
    ]


def test_demo_key_is_created_when_none_is_configured(tmp_path: Path):
    """Without a configured key, a demo signing key is created once in the data directory, private to us."""
    keys = configured_keys(Settings(data_dir=tmp_path))
    assert keys.signing_key_file == tmp_path / "keys" / "delivery.key"
    assert (tmp_path / "keys" / "delivery.key").stat().st_mode & 0o777 == 0o600
    assert configured_keys(Settings(data_dir=tmp_path)) == keys  # not replaced on the next start


# --- end to end -------------------------------------------------------------------------------------------


@pytest.fixture
async def gateway(aiohttp_client, settings: Settings, tmp_path: Path):
    jws.create_key_file(tmp_path / "delivery.key")
    settings = settings.model_copy(
        update={"delivery_key_file": tmp_path / "delivery.key", "delivery_timeout_seconds": 2.0}
    )
    client = await aiohttp_client(create_app(settings))
    yield client


@pytest.fixture
async def agency(gateway) -> AsyncIterator[str]:
    config = AgencySimulatorConfig(jwks_url=str(gateway.make_url("/.well-known/jwks.json")), agency_code=AGENCY)
    runner, url = await start_agency_simulator(config)
    yield url
    await runner.cleanup()


async def _file_dossier(client, orgs, key: str = "p1") -> str:
    """Filed and its files uploaded, so its delivery is queued."""
    return (await file_dossier(client, orgs.postal, postal_dossier(), key))["code"]


async def _delivery(client) -> object:
    services = client.server.app[SERVICES]
    async with services.connection() as conn:
        return await conn.fetchrow("SELECT * FROM outbox WHERE kind = 'agency.deliver' ORDER BY id DESC LIMIT 1")


async def test_push_reaches_the_agency_once_signed_and_stores_its_receipt(gateway, agency, orgs, db):
    await endpoints.set_endpoint(db, AGENCY, f"{agency}/inbox")
    code = await _file_dossier(gateway, orgs)
    row = await _delivery(gateway)
    services = gateway.server.app[SERVICES]

    assert await deliver.handle(services, row) is True

    seen = await simulator(agency)
    assert seen["messages"] == {str(row["message_id"]): 1}
    assert seen["dossiers"] == [code] and seen["rejected"] == 0
    receipt = json.loads(await db.fetchval("SELECT receipt FROM outbox WHERE id = $1", row["id"]))
    assert receipt["mode"] == "push" and receipt["status"] == 200
    assert receipt["answer"]["accepted"] is True and receipt["answer"]["dossier_code"] == code
    assert receipt["answer"]["verified_kid"] == keys_for(services).kid == receipt["signed"]["kid"]
    assert await db.fetchval("SELECT status FROM dossiers WHERE code = $1", code) == "forwarded"
    events = await db.fetch("SELECT type, data FROM dossier_events ORDER BY id")
    assert [e["type"] for e in events] == ["received", "document_received", "forwarded"]
    assert json.loads(events[2]["data"])["mode"] == "push"

    keys = await (await gateway.get("/.well-known/jwks.json")).json()
    assert [k["kid"] for k in keys["keys"]] == [keys_for(services).kid]


async def test_failures_leave_nothing_stored_and_ask_for_a_retry(gateway, agency, orgs, db):
    await endpoints.set_endpoint(db, AGENCY, f"{agency}/inbox")
    code = await _file_dossier(gateway, orgs)
    row = await _delivery(gateway)
    services = gateway.server.app[SERVICES]
    for behaviour in ({"mode": "error"}, {"mode": "down", "seconds": 60}, {"mode": "bad_signature_check"}):
        await simulator(agency, behaviour)
        assert await deliver.handle(services, row) is False, behaviour
    assert await db.fetchval("SELECT receipt FROM outbox WHERE id = $1", row["id"]) is None
    assert await db.fetchval("SELECT status FROM dossiers WHERE code = $1", code) == "received"
    seen = await simulator(agency)
    assert seen["messages"] == {} and seen["rejected"] == 3

    await endpoints.set_endpoint(db, AGENCY, "http://127.0.0.1:9/inbox")  # nothing listens: connection refused
    assert await deliver.handle(services, row) is False

    await endpoints.set_endpoint(db, AGENCY, f"{agency}/inbox")
    await simulator(agency, {"mode": "slow", "seconds": 3})  # longer than the 2 s timeout of this test
    assert await deliver.handle(services, row) is False
    await simulator(agency, {"mode": "down", "seconds": 0})  # outage over
    assert await deliver.handle(services, row) is True
    seen = await simulator(agency)
    assert seen["dossiers"] == [code]  # the slow attempt may also have arrived: same id, one dossier


async def test_redelivery_uses_a_stable_id_and_the_agency_keeps_one_dossier(gateway, agency, orgs, db):
    await endpoints.set_endpoint(db, AGENCY, f"{agency}/inbox")
    code = await _file_dossier(gateway, orgs)
    row = await _delivery(gateway)
    services = gateway.server.app[SERVICES]

    await simulator(agency, {"mode": "lost_answer"})  # the agency has it, the gateway never hears so
    assert await deliver.handle(services, row) is False
    assert await deliver.handle(services, row) is True  # the retry
    await simulator(agency, {"mode": "duplicate"})
    assert await deliver.handle(services, row) is True  # e.g. a worker died before marking it delivered

    seen = await simulator(agency)
    assert seen["messages"] == {str(row["message_id"]): 3}
    assert seen["dossiers"] == [code]
    receipt = json.loads(await db.fetchval("SELECT receipt FROM outbox WHERE id = $1", row["id"]))
    assert receipt["answer"]["duplicate"] is True and receipt["answer"]["reference"] == "SIM-000001"
    forwarded = await db.fetchval("SELECT count(*) FROM dossier_events WHERE type = 'forwarded'")
    assert forwarded == 1


async def test_pull_deliveries_are_not_claimable_for_push(gateway, orgs, db):
    await _file_dossier(gateway, orgs)
    row = await _delivery(gateway)
    services = gateway.server.app[SERVICES]
    claimable = f"SELECT kind FROM outbox WHERE status = 'pending' AND {deliver.PUSH_CONDITION} ORDER BY id"
    assert [r["kind"] for r in await db.fetch(claimable)] == ["dvcqg.sync_dossier"]
    aliased = f"SELECT o.kind FROM outbox o WHERE o.status = 'pending' AND {deliver.push_condition('o')}"
    assert [r["kind"] for r in await db.fetch(aliased)] == ["dvcqg.sync_dossier"]
    with pytest.raises(deliver.NotPushable):
        await deliver.handle(services, row)

    await endpoints.set_endpoint(db, AGENCY, "https://agency.example/inbox")
    # the delivery was queued by the upload, after the intake's sync
    assert [r["kind"] for r in await db.fetch(claimable)] == ["dvcqg.sync_dossier", "agency.deliver"]
    await endpoints.set_endpoint(db, AGENCY, "https://agency.example/inbox", enabled=False)
    assert [r["kind"] for r in await db.fetch(claimable)] == ["dvcqg.sync_dossier"]
    assert await endpoints.delete_endpoint(db, AGENCY) is True
    assert await endpoints.delete_endpoint(db, AGENCY) is False
    # the pull inbox still shows it
    inbox = await (await gateway.get("/v1/agency/inbox", headers=orgs.agency.auth)).json()
    assert [item["message_id"] for item in inbox["items"]] == [str(row["message_id"])]
