"""Integration (real PostgreSQL, real HTTP): who may call what, and what each organisation may see."""

import pytest

from gateway.security import key_prefix
from gateway.store import clients
from tests.samples import postal_dossier, upload_documents

UNKNOWN_CODE = "000.00.10.H26-000101-9999"
MESSAGE_ID = "00000000-0000-4000-8000-000000000000"


async def file(client, org, key="a1") -> dict:
    answer = await client.post("/v1/dossiers", json=postal_dossier(), headers={**org.auth, "Idempotency-Key": key})
    assert answer.status == 201, await answer.text()
    receipt = await answer.json()
    await upload_documents(client, org, receipt)
    return receipt


async def inbox_message_id(client, org) -> str:
    answer = await client.get("/v1/agency/inbox", headers=org.auth)
    assert answer.status == 200
    (item,) = (await answer.json())["items"]
    return item["message_id"]


async def problem(answer, status: int, code: str) -> dict:
    assert answer.status == status, await answer.text()
    assert answer.content_type == "application/problem+json"
    body = await answer.json()
    assert body["code"] == code
    assert body["status"] == status
    return body


ENDPOINTS = [
    ("POST", "/v1/dossiers"),
    ("GET", f"/v1/dossiers/{UNKNOWN_CODE}"),
    ("GET", f"/v1/dossiers/{UNKNOWN_CODE}/events"),
    ("GET", "/v1/agency/inbox"),
    ("POST", f"/v1/agency/inbox/{MESSAGE_ID}/ack"),
    ("POST", f"/v1/agency/dossiers/{UNKNOWN_CODE}/events"),
    ("GET", "/v1/admin/outbox"),
    ("POST", f"/v1/admin/outbox/{MESSAGE_ID}/replay"),
    ("GET", "/metrics"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_missing_credentials_are_401(client, orgs, method, path):
    """Every authenticated endpoint answers 401 `auth.missing` with a Bearer challenge when no key is sent."""
    answer = await client.request(method, path, json={})
    await problem(answer, 401, "auth.missing")
    assert answer.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer nonsense",
        "Bearer mc_000000000000_" + "x" * 43,
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "Bearer",
    ],
)
async def test_invalid_credentials_are_401(client, orgs, authorization):
    """A malformed, unknown or non-Bearer credential answers 401 `auth.invalid` with a Bearer challenge."""
    answer = await client.get("/v1/agency/inbox", headers={"Authorization": authorization})
    await problem(answer, 401, "auth.invalid")
    assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_tampered_key_is_401(client, orgs):
    """A key with a known prefix but a wrong secret part answers 401 `auth.invalid`."""
    tampered = orgs.agency.key[:-1] + ("A" if orgs.agency.key[-1] != "A" else "B")
    answer = await client.get("/v1/agency/inbox", headers={"Authorization": f"Bearer {tampered}"})
    await problem(answer, 401, "auth.invalid")


async def test_revoked_key_is_401(client, orgs, db):
    """A key that worked stops working once revoked: 401 `auth.invalid`."""
    assert (await client.get("/v1/agency/inbox", headers=orgs.agency.auth)).status == 200
    assert await clients.revoke_key(db, key_prefix(orgs.agency.key))
    answer = await client.get("/v1/agency/inbox", headers=orgs.agency.auth)
    await problem(answer, 401, "auth.invalid")
    assert answer.headers["WWW-Authenticate"] == "Bearer"


FORBIDDEN = [
    (role, method, path)
    for method, path, allowed in [
        ("POST", "/v1/dossiers", {"postal", "counter"}),
        ("POST", "/v1/portal/dossiers", {"portal"}),
        ("GET", f"/v1/dossiers/{UNKNOWN_CODE}", {"postal", "counter", "portal", "agency", "admin"}),
        ("GET", f"/v1/dossiers/{UNKNOWN_CODE}/events", {"postal", "counter", "portal", "agency", "admin"}),
        ("GET", "/v1/agency/inbox", {"agency"}),
        ("POST", f"/v1/agency/inbox/{MESSAGE_ID}/ack", {"agency"}),
        ("POST", f"/v1/agency/dossiers/{UNKNOWN_CODE}/events", {"agency"}),
        ("GET", "/v1/admin/outbox", {"admin"}),
        ("POST", f"/v1/admin/outbox/{MESSAGE_ID}/replay", {"admin"}),
    ]
    for role in ("postal", "counter", "agency", "portal", "admin")
    if role not in allowed
]


@pytest.mark.parametrize(("role", "method", "path"), FORBIDDEN)
async def test_wrong_role_is_403(client, orgs, db, role, method, path):
    """A role not allowed on an endpoint gets 403 `auth.role`, before anything else is looked at."""
    answer = await client.request(method, path, json={"type": "accepted"}, headers=getattr(orgs, role).auth)
    body = await problem(answer, 403, "auth.role")
    assert role in body["detail"]
    assert body["allowed_roles"]
    assert await db.fetchval("SELECT count(*) FROM dossiers") == 0


@pytest.mark.parametrize("role", ["postal", "counter", "agency", "portal", "admin"])
async def test_no_api_key_opens_metrics(client, orgs, role):
    """GET /metrics takes the MOTCUA_METRICS_TOKEN only (tests/test_metrics.py): every role's API key, admin
    included, is 401 `auth.invalid` there."""
    await problem(await client.get("/metrics", headers=getattr(orgs, role).auth), 401, "auth.invalid")


def without_code(body: dict, code: str) -> dict:
    return {key: value.replace(code, "<code>") if isinstance(value, str) else value for key, value in body.items()}


@pytest.mark.parametrize("suffix", ["", "/events"])
async def test_others_dossier_looks_unknown(client, orgs, suffix):
    """Another post office, a counter and another agency get the very answer an unknown code gets: 404."""
    code = (await file(client, orgs.postal))["code"]
    unknown = await problem(
        await client.get(f"/v1/dossiers/{UNKNOWN_CODE}{suffix}", headers=orgs.other_postal.auth),
        404,
        "dossier.not_found",
    )
    for outsider in (orgs.other_postal, orgs.counter, orgs.other_agency):
        answer = await client.get(f"/v1/dossiers/{code}{suffix}", headers=outsider.auth)
        hidden = await problem(answer, 404, "dossier.not_found")
        assert without_code(hidden, code) == without_code(unknown, UNKNOWN_CODE), outsider.role


async def test_other_agency_cannot_report_events(client, orgs, db):
    """An agency reporting on a dossier routed elsewhere gets the unknown-code 404, and nothing is recorded."""
    code = (await file(client, orgs.postal))["code"]
    answer = await client.post(
        f"/v1/agency/dossiers/{code}/events", json={"type": "accepted"}, headers=orgs.other_agency.auth
    )
    hidden = await problem(answer, 404, "dossier.not_found")
    unknown = await problem(
        await client.post(
            f"/v1/agency/dossiers/{UNKNOWN_CODE}/events", json={"type": "accepted"}, headers=orgs.other_agency.auth
        ),
        404,
        "dossier.not_found",
    )
    assert without_code(hidden, code) == without_code(unknown, UNKNOWN_CODE)
    assert await db.fetchval("SELECT count(*) FROM dossier_events") == 2  # received, document_received
    assert await db.fetchval("SELECT status FROM dossiers") == "received"


@pytest.mark.parametrize("reader", ["postal", "agency", "admin"])
async def test_submitter_agency_and_admin_see_the_dossier(client, orgs, reader):
    """The submitting post office, the agency it was routed to and an admin read the dossier and its events."""
    code = (await file(client, orgs.postal))["code"]
    auth = getattr(orgs, reader).auth
    dossier = await client.get(f"/v1/dossiers/{code}", headers=auth)
    assert dossier.status == 200, await dossier.text()
    view = await dossier.json()
    assert (view["code"], view["status"], view["agency"]["identifier"]) == (code, "received", "000.00.10.H26")
    assert "tracking_pin" not in view["receipt"]
    events = await client.get(f"/v1/dossiers/{code}/events", headers=auth)
    assert events.status == 200
    assert [item["type"] for item in (await events.json())["items"]] == ["received", "document_received"]


async def test_agency_cannot_ack_another_agencys_message(client, orgs, db):
    """An agency acknowledging a message of another agency's inbox gets 404 `message.not_found`; it stays pending."""
    await file(client, orgs.postal)
    message_id = await inbox_message_id(client, orgs.agency)
    answer = await client.post(f"/v1/agency/inbox/{message_id}/ack", headers=orgs.other_agency.auth)
    await problem(answer, 404, "message.not_found")
    for bad_id in ("not-a-uuid", MESSAGE_ID):
        await problem(
            await client.post(f"/v1/agency/inbox/{bad_id}/ack", headers=orgs.agency.auth), 404, "message.not_found"
        )
    assert await db.fetchval("SELECT status FROM outbox WHERE message_id = $1::uuid", message_id) == "pending"
    assert await db.fetchval("SELECT count(*) FROM dossier_events WHERE type = 'forwarded'") == 0


async def test_ack_twice_answers_the_same_and_records_once(client, orgs, db):
    """A repeated acknowledgement answers 200 with the same time again and records one 'forwarded' event."""
    code = (await file(client, orgs.postal))["code"]
    message_id = await inbox_message_id(client, orgs.agency)
    first = await client.post(f"/v1/agency/inbox/{message_id}/ack", headers=orgs.agency.auth)
    second = await client.post(f"/v1/agency/inbox/{message_id}/ack", headers=orgs.agency.auth)
    assert (first.status, second.status) == (200, 200)
    assert await first.json() == await second.json()
    assert (await first.json())["dossier_code"] == code
    assert await db.fetchval("SELECT count(*) FROM dossier_events WHERE type = 'forwarded'") == 1
    assert await db.fetchval("SELECT status FROM dossiers") == "forwarded"
