"""Integration (real PostgreSQL, real HTTP): every kind of bad input gets a problem+json answer with a stable
`code` and Vietnamese text, never a 5xx."""

import base64
import copy
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from tests.samples import postal_dossier, upload_documents

VIETNAMESE = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]", re.IGNORECASE)


async def problem(answer, status: int, code: str) -> dict:
    """Check the answer is a problem of this status and code, in Vietnamese, and return its body."""
    text = await answer.text()
    assert answer.status == status, text
    assert answer.content_type == "application/problem+json"
    body = json.loads(text)
    assert (body["status"], body["code"]) == (status, code)
    assert body["type"].endswith(code)
    assert VIETNAMESE.search(body["title"]), body["title"]
    assert VIETNAMESE.search(body["detail"]), body["detail"]
    return body


def intake_headers(org, key: str = "k1") -> dict[str, str]:
    return {**org.auth, "Idempotency-Key": key, "Content-Type": "application/json"}


def changed(path: str, value: Any, body: dict | None = None) -> dict:
    """The sample postal dossier with the value at a dotted path replaced (or removed when value is ...)."""
    body = copy.deepcopy(body or postal_dossier())
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return body


async def file_dossier(client, orgs) -> str:
    answer = await client.post(
        "/v1/dossiers", data=json.dumps(postal_dossier()), headers=intake_headers(orgs.postal, "filed")
    )
    assert answer.status == 201, await answer.text()
    receipt = await answer.json()
    await upload_documents(client, orgs.postal, receipt)  # the agency sees the dossier once it is forwarded
    return receipt["code"]


# --- the body as such ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b'{"procedure_code": "2.000488",}', b"\xff\xfe\x00{", b"[" * 100_000 + b"]" * 100_000],
    ids=["syntax", "empty", "trailing-comma", "not-utf8", "nested-too-deep"],
)
async def test_malformed_json_is_400(client, orgs, db, raw):
    """A body that is not JSON, or nests too deep to parse, is 400 `body.malformed_json`."""
    answer = await client.post("/v1/dossiers", data=raw, headers=intake_headers(orgs.postal))
    await problem(answer, 400, "body.malformed_json")
    assert await db.fetchval("SELECT count(*) FROM dossiers") == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
async def test_wrong_media_type_is_415(client, orgs, content_type):
    """A body sent as anything but application/json is 415 `body.media_type`, naming what was received."""
    headers = {**intake_headers(orgs.postal), "Content-Type": content_type}
    answer = await client.post("/v1/dossiers", data=json.dumps(postal_dossier()), headers=headers)
    body = await problem(answer, 415, "body.media_type")
    assert body["received"] == content_type


@pytest.fixture
async def small_client(aiohttp_client, settings):
    """The gateway with a 2048-byte body limit."""
    return await aiohttp_client(create_app(settings.model_copy(update={"max_body_bytes": 2048})))


def oversized() -> bytes:
    body = postal_dossier()
    body["applicant"]["full_name"] = "A" * 3000
    return json.dumps(body).encode()


async def test_declared_oversized_body_is_413(small_client, orgs, db):
    """A body whose Content-Length is over the limit is 413 `body.too_large`."""
    data = oversized()
    answer = await small_client.post("/v1/dossiers", data=data, headers=intake_headers(orgs.postal))
    await problem(answer, 413, "body.too_large")
    assert await db.fetchval("SELECT count(*) FROM dossiers") == 0


async def test_chunked_oversized_body_is_413(small_client, orgs, db):
    """A chunked body without Content-Length that grows past the limit is 413 `body.too_large` as well."""
    data = oversized()

    async def chunks():
        for start in range(0, len(data), 500):
            yield data[start : start + 500]

    answer = await small_client.post("/v1/dossiers", data=chunks(), headers=intake_headers(orgs.postal))
    assert answer.request_info.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in answer.request_info.headers
    await problem(answer, 413, "body.too_large")
    assert await db.fetchval("SELECT count(*) FROM dossiers") == 0


async def test_body_under_the_limit_is_accepted(small_client, orgs):
    """The small limit refuses only what is over it: an ordinary dossier still files."""
    data = json.dumps(postal_dossier()).encode()
    assert len(data) < 2048
    answer = await small_client.post("/v1/dossiers", data=data, headers=intake_headers(orgs.postal))
    assert answer.status == 201, await answer.text()


# --- field validation -------------------------------------------------------------------------------


VALIDATION_CASES = {
    "extra-field": (postal_dossier(surprise=1), [("surprise", "extra_forbidden")]),
    "missing-field": (changed("applicant.phone", ...), [("applicant.phone", "missing")]),
    "id-number-pattern": (
        changed("applicant.id_number", "00109012345"),
        [("applicant.id_number", "string_pattern_mismatch")],
    ),
    "id-number-birth-year": (
        changed("applicant.date_of_birth", "1991-05-14"),
        [("applicant", "applicant.id_number_mismatch")],
    ),
    "id-number-sex": (changed("applicant.sex", "female"), [("applicant", "applicant.id_number_mismatch")]),
    "birth-date-and-year": (changed("applicant.birth_year", 1990), [("applicant", "applicant.birth")]),
    "s10-check-digit": (changed("channel.item_number", "EE123456784VN"), [("channel.postal", "channel.item_number")]),
    "s10-country": (changed("channel.item_number", "EE123456785US"), [("channel.postal", "channel.item_number")]),
    "unknown-channel": (changed("channel.type", "pigeon"), [("channel", "union_tag_invalid")]),
    "nul-character": (changed("applicant.full_name", "An\x00"), [("applicant.full_name", "string.nul_character")]),
    "not-an-object": ([postal_dossier()], [("(body)", "model_type")]),
    "negative-fee": (changed("fees.0.amount", -1), [("fees.0.amount", "greater_than_equal")]),
    "cmnd-with-12-digits": (changed("applicant.cmnd_number", "001090123456"), [("applicant", "applicant.cmnd_number")]),
    "cmnd-short": (changed("applicant.cmnd_number", "12345678"), [("applicant", "applicant.cmnd_number")]),
    "absurd-fee": (changed("fees.0.amount", 10**13), [("fees.0.amount", "less_than_equal")]),
    "foreign-digits-phone": (
        changed("applicant.phone", "091234567٨"),
        [("applicant.phone", "string_pattern_mismatch")],
    ),
}


@pytest.mark.parametrize(("body", "expected"), VALIDATION_CASES.values(), ids=VALIDATION_CASES.keys())
async def test_invalid_fields_are_422_per_field(client, orgs, db, body, expected):
    """A body breaking the schema is 422 `validation.failed` listing each bad field with a stable type and a
    Vietnamese message."""
    answer = await client.post("/v1/dossiers", data=json.dumps(body), headers=intake_headers(orgs.postal))
    problem_body = await problem(answer, 422, "validation.failed")
    assert [(e["field"], e["type"]) for e in problem_body["errors"]] == expected
    for error in problem_body["errors"]:
        assert VIETNAMESE.search(error["message"]), error
    assert await db.fetchval("SELECT count(*) FROM dossiers") == 0
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0


COUNTER_CHANNEL = {"type": "counter", "unit_code": "20194"}
LAND_DOCUMENTS = [{**postal_dossier()["documents"][0], "component_code": "DON_BD"}]
MAPPING_CASES = {
    "unknown-procedure": ("postal", changed("procedure_code", "9.999999"), "procedure.unknown", "procedure_code"),
    "unknown-unit": (
        "postal",
        changed("applicant.residence.unit_code", "99999"),
        "unit.unknown",
        "applicant.residence.unit_code",
    ),
    "unknown-legacy-unit": (
        "postal",
        changed("applicant.residence.code_system", "legacy", changed("applicant.residence.unit_code", "99999")),
        "unit.unknown",
        "applicant.residence.unit_code",
    ),
    "not-postal": (
        "postal",
        changed("procedure_code", "DEMO.CT.01", changed("documents", [])),
        "procedure.not_postal",
        "procedure_code",
    ),
    "unknown-component": (
        "postal",
        changed("documents.0.component_code", "GCS"),
        "document.unknown_component",
        "documents.0.component_code",
    ),
    "channel-mismatch": ("postal", changed("channel", COUNTER_CHANNEL), "channel.mismatch", "channel.type"),
    "counter-sends-postal": ("counter", postal_dossier(), "channel.mismatch", "channel.type"),
    "no-subject-location": (
        "postal",
        changed("procedure_code", "DEMO.DD.01", changed("documents", LAND_DOCUMENTS)),
        "unit.unknown",
        "subject_location",
    ),
}


@pytest.mark.parametrize(("role", "body", "code", "field"), MAPPING_CASES.values(), ids=MAPPING_CASES.keys())
async def test_catalog_and_routing_refusals_are_422(client, orgs, db, role, body, code, field):
    """A well-formed dossier the catalog, the unit list or the routing rules refuse is 422 with its own code,
    naming the field."""
    answer = await client.post("/v1/dossiers", data=json.dumps(body), headers=intake_headers(getattr(orgs, role)))
    problem_body = await problem(answer, 422, code)
    assert [(e["field"], e["type"]) for e in problem_body["errors"]] == [(field, code)]
    assert await db.fetchval("SELECT count(*) FROM dossiers") == 0


# --- routes and methods ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/nothing", "/v1/dossiers/a/b/c", "/v2/dossiers"])
async def test_unknown_route_is_404(client, path):
    """A path the API does not have is 404 `route.not_found`."""
    await problem(await client.get(path), 404, "route.not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"), [("DELETE", "/v1/dossiers", "POST"), ("PUT", "/v1/agency/inbox", "GET")]
)
async def test_wrong_method_is_405(client, orgs, method, path, allowed):
    """A known path with a method it does not take is 405 naming the method and listing the allowed ones."""
    answer = await client.request(method, path, headers=orgs.postal.auth)
    body = await problem(answer, 405, "route.method_not_allowed")
    assert method in body["detail"]
    assert allowed in answer.headers["Allow"]


async def test_code_with_nul_character_is_not_found(client, orgs):
    """A dossier code with a NUL character is an unknown code, not a database error."""
    await problem(await client.get("/v1/dossiers/ab%00cd", headers=orgs.postal.auth), 404, "dossier.not_found")
    await problem(
        await client.post("/v1/agency/dossiers/ab%00cd/events", json={"type": "accepted"}, headers=orgs.agency.auth),
        404,
        "dossier.not_found",
    )
    await problem(
        await client.get("/v1/track/ab%00cd", headers={"X-Tracking-Pin": "123456"}), 404, "tracking.not_found"
    )


# --- agency events ----------------------------------------------------------------------------------


async def test_event_from_the_wrong_status_is_409(client, orgs, db):
    """A result reported before the dossier was accepted is 409 `dossier.invalid_transition` and changes nothing."""
    code = await file_dossier(client, orgs)
    answer = await client.post(
        f"/v1/agency/dossiers/{code}/events", json={"type": "result_ready"}, headers=orgs.agency.auth
    )
    body = await problem(answer, 409, "dossier.invalid_transition")
    assert (body["current_status"], body["event"]) == ("received", "result_ready")
    assert await db.fetchval("SELECT status FROM dossiers") == "received"
    assert await db.fetchval("SELECT count(*) FROM dossier_events") == 2  # received, document_received


EVENT_CASES = {
    "future": (
        {"type": "accepted", "occurred_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
        [("occurred_at", "event.future")],
    ),
    "before-received": (
        {"type": "accepted", "occurred_at": "2020-01-01T08:00:00+07:00"},
        [("occurred_at", "event.before_received")],
    ),
    "year-one": (
        {"type": "accepted", "occurred_at": "0001-01-01T00:00:00+14:00"},
        [("occurred_at", "event.before_received")],
    ),
    "naive-time": ({"type": "accepted", "occurred_at": "2026-01-01T08:00:00"}, [("occurred_at", "timezone_aware")]),
    "unknown-type": ({"type": "approved"}, [("type", "literal_error")]),
    "nul-note": ({"type": "accepted", "note": "xong\x00"}, [("note", "string.nul_character")]),
    "extra-field": ({"type": "accepted", "status": "done"}, [("status", "extra_forbidden")]),
}


@pytest.mark.parametrize(("event", "expected"), EVENT_CASES.values(), ids=EVENT_CASES.keys())
async def test_invalid_event_is_422(client, orgs, db, event, expected):
    """An agency event dated in the future or before the dossier was received, without a time zone, or with bad
    fields is 422, recording nothing."""
    code = await file_dossier(client, orgs)
    answer = await client.post(f"/v1/agency/dossiers/{code}/events", json=event, headers=orgs.agency.auth)
    body = await problem(answer, 422, "validation.failed")
    assert [(e["field"], e["type"]) for e in body["errors"]] == expected
    assert await db.fetchval("SELECT count(*) FROM dossier_events") == 2  # received, document_received


async def test_repeated_event_id_is_recorded_once(client, orgs, db):
    """An event sent again with the same event_id answers 200 with the first one's seq and records one row."""
    code = await file_dossier(client, orgs)
    event = {"type": "accepted", "event_id": "evt-1", "officer": "Trần Thị Bình"}
    first = await client.post(f"/v1/agency/dossiers/{code}/events", json=event, headers=orgs.agency.auth)
    assert first.status == 201, await first.text()
    again = await client.post(f"/v1/agency/dossiers/{code}/events", json=event, headers=orgs.agency.auth)
    assert again.status == 200, await again.text()
    assert (await again.json())["seq"] == (await first.json())["seq"] == 3  # after received, document_received
    assert await db.fetchval("SELECT count(*) FROM dossier_events WHERE external_id = 'evt-1'") == 1
    assert await db.fetchval("SELECT count(*) FROM dossier_events") == 3


# --- inbox query ------------------------------------------------------------------------------------


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor", ["!!!", "not-a-cursor", b64("x:1"), b64("o:abc"), b64("o:-1"), b64("o:²"), b64("o:" + "9" * 25)]
)
async def test_bad_cursor_is_400(client, orgs, cursor):
    """An inbox cursor the gateway did not issue is 400 `cursor.invalid`."""
    answer = await client.get("/v1/agency/inbox", params={"cursor": cursor}, headers=orgs.agency.auth)
    await problem(answer, 400, "cursor.invalid")


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "1.5", "", "²", "9" * 30])
async def test_bad_limit_is_400(client, orgs, limit):
    """An inbox limit that is not a whole number from 1 to 200 is 400 `query.invalid` naming the field."""
    answer = await client.get("/v1/agency/inbox", params={"limit": limit}, headers=orgs.agency.auth)
    body = await problem(answer, 400, "query.invalid")
    assert [e["field"] for e in body["errors"]] == ["limit"]


async def test_issued_cursor_pages_on(client, orgs):
    """The cursor the inbox hands out is accepted and leads to the next page (the 400s above are not blanket)."""
    for i in range(3):
        filed = await client.post(
            "/v1/dossiers", data=json.dumps(postal_dossier()), headers=intake_headers(orgs.postal, f"p{i}")
        )
        assert filed.status == 201
        await upload_documents(client, orgs.postal, await filed.json())
    first = await (await client.get("/v1/agency/inbox", params={"limit": "2"}, headers=orgs.agency.auth)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await client.get(
        "/v1/agency/inbox", params={"limit": "2", "cursor": first["next_cursor"]}, headers=orgs.agency.auth
    )
    assert rest.status == 200
    page = await rest.json()
    assert (len(page["items"]), page["next_cursor"]) == (1, None)


# --- any JSON at all --------------------------------------------------------------------------------

FIELD_NAMES = [
    "procedure_code",
    "applicant",
    "channel",
    "documents",
    "return_method",
    "fees",
    "subject_location",
    "type",
    "id_number",
    "residence",
    "unit_code",
    "date_of_birth",
    "birth_year",
    "item_number",
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=JSON_VALUES)
async def test_any_json_body_gets_a_problem_not_a_5xx(client, orgs, value):
    """Whatever JSON value is posted as a dossier, the answer is a 4xx problem+json with a code, never a 5xx."""
    answer = await client.post(
        "/v1/dossiers", data=json.dumps(value), headers=intake_headers(orgs.postal, uuid.uuid4().hex)
    )
    text = await answer.text()
    assert 400 <= answer.status < 500, text
    assert answer.content_type == "application/problem+json"
    body = json.loads(text)
    assert body["status"] == answer.status and body["code"] and body["title"] and body["detail"]
