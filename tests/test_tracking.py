"""Integration (real PostgreSQL, real HTTP): citizen tracking with the dossier code and the receipt PIN."""

import asyncio
import json
from datetime import datetime

import pytest
from pydantic import SecretStr

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import SECRET, make_org
from tests.samples import POSTAL_DOSSIER, file_dossier, postal_dossier

PIN_HEADER = "X-Tracking-Pin"


async def file(client, orgs) -> dict:
    """Filed and its files uploaded: on its way to the agency."""
    return await file_dossier(client, orgs.postal, postal_dossier(), "t1")


def wrong(pin: str) -> str:
    return f"{(int(pin) + 1) % 1_000_000:06d}"


async def test_code_and_pin_show_the_timeline_without_personal_data(client, orgs):
    """The right code and PIN show status, appointment and timeline, and nothing that identifies the applicant."""
    receipt = await file(client, orgs)
    answer = await client.get(f"/v1/track/{receipt['code']}", headers={PIN_HEADER: receipt["tracking_pin"]})
    assert answer.status == 200, await answer.text()
    view = await answer.json()
    assert (view["code"], view["status"], view["status_label"]) == (receipt["code"], "received", "Đã tiếp nhận")
    # The same instant (the receipt gives it in Vietnam time, the database answers in UTC).
    assert datetime.fromisoformat(view["appointment_at"]) == datetime.fromisoformat(receipt["appointment_at"])
    assert view["agency"] == receipt["agency"]
    assert [(item["label"], item["status_label"]) for item in view["timeline"]] == [
        ("Tiếp nhận hồ sơ", "Đã tiếp nhận"),
        ("Đã nhận bản điện tử thành phần hồ sơ", "Đã tiếp nhận"),
    ]
    text = await answer.text()
    applicant = POSTAL_DOSSIER["applicant"]
    for personal in (
        applicant["id_number"],
        applicant["full_name"],
        applicant["phone"],
        applicant["residence"]["address_line"],
        applicant["date_of_birth"],
        receipt["tracking_pin"],
    ):
        assert personal not in text, personal
    assert not {"applicant", "tracking_pin", "documents", "fees"} & set(view)


async def test_timeline_follows_agency_events(client, orgs):
    """Progress the agency reports appears on the citizen's timeline in order."""
    receipt = await file(client, orgs)
    reported = await client.post(
        f"/v1/agency/dossiers/{receipt['code']}/events", json={"type": "accepted"}, headers=orgs.agency.auth
    )
    assert reported.status == 201
    view = await (
        await client.get(f"/v1/track/{receipt['code']}", headers={PIN_HEADER: receipt["tracking_pin"]})
    ).json()
    assert view["status"] == "processing"
    assert [item["label"] for item in view["timeline"]] == [
        "Tiếp nhận hồ sơ",
        "Đã nhận bản điện tử thành phần hồ sơ",
        "Cơ quan bắt đầu giải quyết",
    ]


async def test_wrong_pin_and_unknown_code_look_the_same(client, orgs):
    """A wrong PIN for a real code and any PIN for an unknown code get the same 404 body, byte for byte."""
    receipt = await file(client, orgs)
    code = receipt["code"]
    unknown_code = code[:-4] + "9999"
    wrong_pin = await client.get(f"/v1/track/{code}", headers={PIN_HEADER: wrong(receipt["tracking_pin"])})
    unknown = await client.get(f"/v1/track/{unknown_code}", headers={PIN_HEADER: receipt["tracking_pin"]})
    assert wrong_pin.status == unknown.status == 404
    assert wrong_pin.content_type == unknown.content_type == "application/problem+json"
    wrong_body, unknown_body = await wrong_pin.read(), await unknown.read()
    assert wrong_body == unknown_body
    assert json.loads(wrong_body)["code"] == "tracking.not_found"


@pytest.mark.parametrize("headers", [{}, {PIN_HEADER: ""}])
async def test_missing_pin_is_400(client, orgs, db, headers):
    """A lookup without the PIN header is 400 `tracking.pin_missing` and does not count as a failed attempt."""
    receipt = await file(client, orgs)
    answer = await client.get(f"/v1/track/{receipt['code']}", headers=headers)
    assert answer.status == 400
    assert answer.content_type == "application/problem+json"
    assert (await answer.json())["code"] == "tracking.pin_missing"
    assert await db.fetchval("SELECT count(*) FROM tracking_failures") == 0


@pytest.fixture
async def strict_client(aiohttp_client, settings):
    """The gateway allowing three wrong PINs per code and window."""
    return await aiohttp_client(create_app(settings.model_copy(update={"tracking_max_failures": 3})))


async def test_too_many_wrong_pins_lock_the_code(strict_client, orgs):
    """After tracking_max_failures wrong PINs even the right PIN is 429 `tracking.rate_limited` with Retry-After."""
    receipt = await file(strict_client, orgs)
    code, pin = receipt["code"], receipt["tracking_pin"]
    for _ in range(3):
        answer = await strict_client.get(f"/v1/track/{code}", headers={PIN_HEADER: wrong(pin)})
        assert answer.status == 404
    locked = await strict_client.get(f"/v1/track/{code}", headers={PIN_HEADER: pin})
    assert locked.status == 429
    assert locked.content_type == "application/problem+json"
    assert (await locked.json())["code"] == "tracking.rate_limited"
    assert locked.headers["Retry-After"] == "900"


async def test_failures_below_the_limit_do_not_lock(strict_client, orgs):
    """Fewer wrong PINs than the limit leave the right PIN working."""
    receipt = await file(strict_client, orgs)
    code, pin = receipt["code"], receipt["tracking_pin"]
    for _ in range(2):
        assert (await strict_client.get(f"/v1/track/{code}", headers={PIN_HEADER: wrong(pin)})).status == 404
    assert (await strict_client.get(f"/v1/track/{code}", headers={PIN_HEADER: pin})).status == 200


async def test_lock_is_per_code(strict_client, orgs):
    """Wrong PINs against one code do not lock another code looked up from the same address."""
    first = await file(strict_client, orgs)
    second_answer = await strict_client.post(
        "/v1/dossiers", json=postal_dossier(), headers={**orgs.postal.auth, "Idempotency-Key": "t2"}
    )
    second = await second_answer.json()
    for _ in range(3):
        await strict_client.get(f"/v1/track/{first['code']}", headers={PIN_HEADER: wrong(first["tracking_pin"])})
    assert (await strict_client.get(f"/v1/track/{first['code']}", headers={PIN_HEADER: "000000"})).status == 429
    answer = await strict_client.get(f"/v1/track/{second['code']}", headers={PIN_HEADER: second["tracking_pin"]})
    assert answer.status == 200


async def test_a_burst_of_wrong_pins_gets_no_more_guesses_than_the_limit(aiohttp_client, db_url, db):
    """Wrong PINs sent all at once are counted one after another, so no more than the limit get an answer."""
    settings = Settings(database_url=db_url, secret_key=SecretStr(SECRET), tracking_max_failures=3, db_pool_max=20)
    client = await aiohttp_client(create_app(settings))
    postal = await make_org(db, "Bưu điện burst", "postal", unit_code="00004")
    filed = await client.post("/v1/dossiers", json=postal_dossier(), headers={**postal.auth, "Idempotency-Key": "b"})
    receipt = await filed.json()
    code, wrong_pin = receipt["code"], f"{(int(receipt['tracking_pin']) + 1) % 10**6:06d}"
    answers = await asyncio.gather(
        *(client.get(f"/v1/track/{code}", headers={"X-Tracking-Pin": wrong_pin}) for _ in range(12))
    )
    statuses = sorted(answer.status for answer in answers)
    assert statuses.count(404) == 3 and statuses.count(429) == 9
