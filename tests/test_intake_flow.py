"""Integration (real PostgreSQL, real HTTP): the whole path intake → inbox → ack → events → tracking."""

import json
from datetime import datetime, timedelta

from gateway.app import create_app
from gateway.settings import Settings
from mapping import WorkingCalendar, load_catalog
from mapping.calendar import VN_TZ
from tests.samples import postal_dossier, upload_documents


async def test_dossier_travels_from_post_office_to_agency_and_citizen(client, orgs, db):
    """A dossier filed at a post office reaches the competent agency's inbox, moves on its events, and the
    citizen follows it with the PIN from the receipt."""
    filed = await client.post(
        "/v1/dossiers", json=postal_dossier(), headers={**orgs.postal.auth, "Idempotency-Key": "a1"}
    )
    assert filed.status == 201, await filed.text()
    receipt = await filed.json()
    code = receipt["code"]
    assert code.startswith("000.00.10.H26-") and code.endswith("-0001")
    assert receipt["agency"]["identifier"] == "000.00.10.H26"
    assert receipt["fees"]["outstanding"] == 0
    assert len(receipt["tracking_pin"]) == 6 and receipt["tracking_pin"].isdigit()
    assert filed.headers["Location"] == f"/v1/dossiers/{code}"
    await upload_documents(client, orgs.postal, receipt)  # the scanned form: the dossier goes on to the agency

    inbox = await client.get("/v1/agency/inbox", headers=orgs.agency.auth)
    assert inbox.status == 200
    items = (await inbox.json())["items"]
    assert [item["dossier_code"] for item in items] == [code]
    assert items[0]["payload"]["applicant"]["id_number"] == "001090123456"

    ack = await client.post(f"/v1/agency/inbox/{items[0]['message_id']}/ack", headers=orgs.agency.auth)
    assert ack.status == 200
    assert (await (await client.get("/v1/agency/inbox", headers=orgs.agency.auth)).json())["items"] == []

    for event_type in ("accepted", "result_ready"):
        reported = await client.post(
            f"/v1/agency/dossiers/{code}/events",
            json={"type": event_type, "officer": "Trần Thị Bình"},
            headers=orgs.agency.auth,
        )
        assert reported.status == 201, await reported.text()

    tracked = await client.get(f"/v1/track/{code}", headers={"X-Tracking-Pin": receipt["tracking_pin"]})
    assert tracked.status == 200
    view = await tracked.json()
    assert view["status"] == "result_ready"
    assert [item["label"] for item in view["timeline"]] == [
        "Tiếp nhận hồ sơ",
        "Đã nhận bản điện tử thành phần hồ sơ",
        "Cơ quan giải quyết đã nhận hồ sơ",
        "Cơ quan bắt đầu giải quyết",
        "Đã có kết quả giải quyết",
    ]
    assert "001090123456" not in await tracked.text()  # no personal data on the public answer

    outbox = await db.fetch("SELECT kind, status FROM outbox ORDER BY id")
    assert [(r["kind"], r["status"]) for r in outbox] == [
        ("dvcqg.sync_dossier", "pending"),
        ("agency.deliver", "delivered"),  # queued by the upload that completed the dossier, after the intake
    ]


async def test_answers_give_times_in_vietnam_time(client, orgs):
    """Receipt, dossier view, timeline and tracking all state times with the +07:00 offset users read."""
    filed = await client.post(
        "/v1/dossiers", json=postal_dossier(), headers={**orgs.postal.auth, "Idempotency-Key": "t"}
    )
    receipt = await filed.json()
    view = await (await client.get(f"/v1/dossiers/{receipt['code']}", headers=orgs.postal.auth)).json()
    events = await (await client.get(f"/v1/dossiers/{receipt['code']}/events", headers=orgs.postal.auth)).json()
    tracked = await (
        await client.get(f"/v1/track/{receipt['code']}", headers={"X-Tracking-Pin": receipt["tracking_pin"]})
    ).json()
    stamps = [
        receipt["received_at"],
        receipt["appointment_at"],
        view["received_at"],
        view["appointment_at"],
        events["items"][0]["occurred_at"],
        events["items"][0]["recorded_at"],
        tracked["received_at"],
        tracked["timeline"][0]["occurred_at"],
    ]
    assert all(stamp.endswith("+07:00") for stamp in stamps), stamps


async def test_announced_days_off_from_settings_move_the_appointment(aiohttp_client, settings, orgs, monkeypatch):
    """Days off named in MOTCUA_EXTRA_DAYS_OFF are skipped when the gateway dates a dossier."""
    plain = await aiohttp_client(create_app(settings))
    first = await (
        await plain.post("/v1/dossiers", json=postal_dossier(), headers={**orgs.postal.auth, "Idempotency-Key": "p"})
    ).json()
    today = datetime.now(VN_TZ).date()
    days_off = [today + timedelta(days=n) for n in range(0, 7)]
    monkeypatch.setenv("MOTCUA_EXTRA_DAYS_OFF", json.dumps([day.isoformat() for day in days_off]))
    closed = await aiohttp_client(
        create_app(Settings(database_url=settings.database_url, secret_key=settings.secret_key))
    )
    second = await (
        await closed.post("/v1/dossiers", json=postal_dossier(), headers={**orgs.postal.auth, "Idempotency-Key": "c"})
    ).json()
    procedure = load_catalog().procedure("2.000488", today)
    expected = WorkingCalendar(extra_days_off=days_off).postal_estimate(
        datetime.fromisoformat(second["received_at"]),
        procedure.processing,
        None,
        timedelta(hours=settings.postal_transit_hours),
    )
    assert datetime.fromisoformat(second["appointment_at"]) == expected
    assert datetime.fromisoformat(second["appointment_at"]) > datetime.fromisoformat(first["appointment_at"])
