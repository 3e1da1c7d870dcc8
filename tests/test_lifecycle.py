"""Integration (real PostgreSQL, real HTTP): the dossier lifecycle — every transition the agency and the
submitter may make, the clock stopped by a supplement request, overdue dossiers and the apology (form 04)."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.keys import SERVICES
from gateway.workflow.lifecycle import AGENCY_EVENTS
from gateway.workflow.overdue import scan_overdue
from mapping import WorkingCalendar
from tests.journeys import BODIES, DVCQG, PATHS, agency_event, bring, dossier_status, dossier_view
from tests.samples import SHA, counter_dossier, file_dossier, postal_dossier

CALENDAR = WorkingCalendar()
# Every agency event allowed from each status, and the status it leads to (apology: see the overdue tests).
VALID = {
    ("received", "physical_received"): "received",
    ("received", "accepted"): "processing",
    ("received", "supplement_requested"): "supplement_requested",
    ("received", "refused"): "refused",
    ("forwarded", "physical_received"): "forwarded",
    ("forwarded", "accepted"): "processing",
    ("forwarded", "supplement_requested"): "supplement_requested",
    ("forwarded", "refused"): "refused",
    ("processing", "physical_received"): "processing",
    ("processing", "supplement_requested"): "supplement_requested",
    ("processing", "payment_requested"): "payment_requested",
    ("processing", "stopped"): "stopped",
    ("processing", "result_ready"): "result_ready",
    ("supplement_requested", "stopped"): "stopped",
    ("payment_requested", "payment_received"): "processing",
    ("payment_requested", "stopped"): "stopped",
    ("result_ready", "returned"): "returned",
}
INVALID = [(status, event) for status in PATHS for event in AGENCY_EVENTS if (status, event) not in VALID]
FINISHED = ["withdrawn", "stopped", "refused", "returned"]


async def _file(client, orgs, key="k", body=None, org=None) -> dict:
    """Filed and its files uploaded by the submitter: forwarded to the agency."""
    return await file_dossier(client, org or orgs.postal, body or postal_dossier(), key)


async def _problem(answer, status: int, code: str) -> dict:
    body = await answer.json()
    assert (answer.status, body["code"]) == (status, code), body
    return body


@pytest.mark.parametrize(("status", "event"), VALID.keys(), ids=[f"{s}-{e}" for s, e in VALID])
async def test_valid_transition(client, orgs, status, event):
    """Each agency event allowed from a status is recorded and leads to its status."""
    code = (await _file(client, orgs))["code"]
    await bring(client, orgs, code, status)
    answer = await agency_event(client, orgs, code, event)
    assert answer.status == 201, await answer.text()
    assert (await answer.json())["status_after"] == VALID[(status, event)]
    assert await dossier_status(client, orgs, code) == VALID[(status, event)]


@pytest.mark.parametrize(("status", "event"), INVALID, ids=[f"{s}-{e}" for s, e in INVALID])
async def test_invalid_transition_is_409(client, orgs, db, status, event):
    """Every other agency event, from every status, is 409 `dossier.invalid_transition` and records nothing."""
    code = (await _file(client, orgs))["code"]
    await bring(client, orgs, code, status)
    before = await db.fetchval("SELECT count(*) FROM dossier_events")
    body = await _problem(await agency_event(client, orgs, code, event), 409, "dossier.invalid_transition")
    assert (body["current_status"], body["event"]) == (status, event)
    assert await db.fetchval("SELECT count(*) FROM dossier_events") == before
    assert await dossier_status(client, orgs, code) == status


@pytest.mark.parametrize("status", DVCQG)
async def test_each_status_shows_its_dvcqg_code(client, orgs, status):
    """GET /v1/dossiers/{code} gives the DVCQG TrangThaiHoSo code of the status."""
    code = (await _file(client, orgs))["code"]
    await bring(client, orgs, code, status)
    assert (await dossier_view(client, orgs, code))["dvcqg_status"] == DVCQG[status]


@pytest.mark.parametrize("status", FINISHED)
async def test_finished_dossier_accepts_nothing(client, orgs, status):
    """A withdrawn, stopped, refused or returned dossier takes no withdrawal and no supplement either."""
    code = (await _file(client, orgs))["code"]
    await bring(client, orgs, code, status)
    await _problem(
        await client.post(f"/v1/dossiers/{code}/withdraw", headers=orgs.postal.auth), 409, "dossier.invalid_transition"
    )
    supplement = {"documents": postal_dossier()["documents"]}
    await _problem(
        await client.post(f"/v1/dossiers/{code}/supplements", json=supplement, headers=orgs.postal.auth),
        409,
        "dossier.invalid_transition",
    )


# --- supplement: the clock stops and resumes -------------------------------------------------------


async def test_supplement_stops_the_clock_and_its_arrival_redates_the_appointment(client, orgs, db):
    """A supplement request stops the clock; when the supplement arrives through the submitter, the appointment
    moves by exactly the working time the clock stood still, and the event keeps both dates."""
    receipt = await _file(client, orgs, body=counter_dossier(), org=orgs.counter)
    code = receipt["code"]
    await bring(client, orgs, code, "processing")
    requested = await agency_event(client, orgs, code, "supplement_requested")
    assert requested.status == 201, await requested.text()
    event = await requested.json()
    assert event["data"]["missing_components"] == BODIES["supplement_requested"]["missing_components"]
    stopped_at = await db.fetchval("SELECT clock_stopped_at FROM dossiers WHERE code = $1", code)
    assert stopped_at == datetime.fromisoformat(event["occurred_at"])
    assert datetime.fromisoformat(event["data"]["stopped_at"]) == stopped_at

    # A measurable stop: thirty days back holds working time whatever day the test runs.
    stopped_at = stopped_at - timedelta(days=30)
    await db.execute("UPDATE dossiers SET clock_stopped_at = $2 WHERE code = $1", code, stopped_at)
    due = datetime.fromisoformat(receipt["appointment_at"])

    other = await client.post(
        f"/v1/dossiers/{code}/supplements", json={"documents": postal_dossier()["documents"]}, headers=orgs.postal.auth
    )
    await _problem(other, 404, "dossier.not_found")
    empty = await client.post(f"/v1/dossiers/{code}/supplements", json={"documents": []}, headers=orgs.counter.auth)
    await _problem(empty, 422, "validation.failed")

    documents = [
        {"component_code": "BS", "name": "Bản sao giấy khai sinh", "sha256": SHA, "size": 10, "media_type": "image/png"}
    ]
    arrived = await client.post(
        f"/v1/dossiers/{code}/supplements", json={"documents": documents, "note": "Đủ"}, headers=orgs.counter.auth
    )
    assert arrived.status == 201, await arrived.text()
    supplement = await arrived.json()
    resumed_at = datetime.fromisoformat(supplement["occurred_at"])
    expected = CALENDAR.resume_after_stop(due, stopped_at, resumed_at)
    assert expected > due
    assert supplement["type"] == "supplement_received" and supplement["status_after"] == "processing"
    assert supplement["data"]["documents"] == documents
    assert datetime.fromisoformat(supplement["data"]["previous_appointment_at"]) == due
    assert datetime.fromisoformat(supplement["data"]["appointment_at"]) == expected
    assert datetime.fromisoformat(supplement["data"]["stopped_at"]) == stopped_at

    view = await (await client.get(f"/v1/dossiers/{code}", headers=orgs.counter.auth)).json()
    assert (view["status"], view["dvcqg_status"]) == ("processing", 4)
    assert datetime.fromisoformat(view["appointment_at"]) == expected
    assert await db.fetchval("SELECT clock_stopped_at FROM dossiers WHERE code = $1", code) is None

    again = await client.post(
        f"/v1/dossiers/{code}/supplements", json={"documents": documents}, headers=orgs.counter.auth
    )
    await _problem(again, 409, "dossier.invalid_transition")


# --- what the events record, and what they require ---------------------------------------------------


async def test_payment_amounts_and_reasons_are_recorded(client, orgs):
    """A payment request records its lines and their total; stop and refusal record the reason."""
    paid = (await _file(client, orgs, "a"))["code"]
    await bring(client, orgs, paid, "processing")
    answer = await agency_event(client, orgs, paid, "payment_requested", officer="Trần Thị Bình")
    data = (await answer.json())["data"]
    assert data["amounts"] == BODIES["payment_requested"]["amounts"]
    assert (data["total"], data["officer"]) == (100000, "Trần Thị Bình")
    assert (await agency_event(client, orgs, paid, "payment_received")).status == 201
    stopped = await agency_event(client, orgs, paid, "stopped")
    assert (await stopped.json())["data"]["reason"] == BODIES["stopped"]["reason"]

    refused = (await _file(client, orgs, "b"))["code"]
    answer = await agency_event(client, orgs, refused, "refused")
    assert (await answer.json())["data"]["reason"] == BODIES["refused"]["reason"]
    assert (await dossier_view(client, orgs, refused))["dvcqg_status"] == 3


FIELD_CASES = {
    "stop-without-reason": ({"type": "stopped"}, [("reason", "event.field_required")]),
    "refuse-blank-reason": ({"type": "refused", "reason": "  "}, [("reason", "string_too_short")]),
    "supplement-without-list": ({"type": "supplement_requested"}, [("missing_components", "event.field_required")]),
    "supplement-empty-list": (
        {"type": "supplement_requested", "missing_components": []},
        [("missing_components", "too_short")],
    ),
    "payment-without-amounts": ({"type": "payment_requested"}, [("amounts", "event.field_required")]),
    "payment-negative": (
        {"type": "payment_requested", "amounts": [{"name": "Lệ phí", "amount": -1}]},
        [("amounts.0.amount", "greater_than_equal")],
    ),
    "apology-without-date": ({"type": "apology"}, [("new_appointment_at", "event.field_required")]),
    "apology-naive-date": (
        {"type": "apology", "new_appointment_at": "2030-01-01T08:00:00"},
        [("new_appointment_at", "timezone_aware")],
    ),
    "reason-on-accept": ({"type": "accepted", "reason": "x"}, [("reason", "event.field_not_applicable")]),
    "amounts-on-stop": (
        {"type": "stopped", "reason": "x", "amounts": [{"name": "a", "amount": 1}]},
        [("amounts", "event.field_not_applicable")],
    ),
    "unknown-field": ({"type": "stopped", "reason": "x", "fee": 1}, [("fee", "extra_forbidden")]),
}


@pytest.mark.parametrize(("event", "expected"), FIELD_CASES.values(), ids=FIELD_CASES.keys())
async def test_event_fields_are_checked_per_type(client, orgs, db, event, expected):
    """Each event type requires its own fields and refuses the others': 422 naming the field, nothing recorded."""
    code = (await _file(client, orgs))["code"]
    await bring(client, orgs, code, "processing")
    before = await db.fetchval("SELECT count(*) FROM dossier_events")
    answer = await client.post(f"/v1/agency/dossiers/{code}/events", json=event, headers=orgs.agency.auth)
    body = await _problem(answer, 422, "validation.failed")
    assert [(e["field"], e["type"]) for e in body["errors"]] == expected
    assert await db.fetchval("SELECT count(*) FROM dossier_events") == before


# --- withdrawal by the submitter ---------------------------------------------------------------------


async def test_submitter_withdraws_before_the_result(client, orgs, db):
    """The organisation that filed the dossier withdraws it for the citizen (reason optional); nobody else may,
    and once the result is ready it is too late."""
    code = (await _file(client, orgs, "a"))["code"]
    url = f"/v1/dossiers/{code}/withdraw"
    await _problem(await client.post(url, headers=orgs.other_postal.auth), 404, "dossier.not_found")
    assert (await client.post(url, headers=orgs.agency.auth)).status == 403
    await bring(client, orgs, code, "supplement_requested")
    answer = await client.post(url, json={"reason": "Công dân đổi ý"}, headers=orgs.postal.auth)
    assert answer.status == 201, await answer.text()
    event = await answer.json()
    assert (event["type"], event["status_after"], event["data"]) == (
        "withdrawn",
        "withdrawn",
        {"reason": "Công dân đổi ý"},
    )
    assert (await dossier_view(client, orgs, code))["dvcqg_status"] == 7

    ready = (await _file(client, orgs, "b"))["code"]
    await bring(client, orgs, ready, "result_ready")
    late = await client.post(f"/v1/dossiers/{ready}/withdraw", headers=orgs.postal.auth)
    await _problem(late, 409, "dossier.invalid_transition")
    assert await dossier_status(client, orgs, ready) == "result_ready"


# --- overdue and apology (form 04) ----------------------------------------------------------------


async def test_overdue_scan_marks_each_overdue_dossier_once_and_apology_redates(client, orgs, db):
    """The scan raises one `overdue` event per unfinished dossier past its appointment (not on finished or
    clock-stopped ones, not twice); the apology gives a later appointment, and the citizen sees both."""
    services = client.server.app[SERVICES]

    async def scan() -> int:
        async with services.connection() as conn:  # the gateway's own connections, with their JSON codecs
            return await scan_overdue(services, conn)

    receipts = {name: await _file(client, orgs, name) for name in ("late", "late2", "ontime", "done", "paused")}
    codes = {name: r["code"] for name, r in receipts.items()}
    await bring(client, orgs, codes["late2"], "processing")
    await bring(client, orgs, codes["done"], "result_ready")
    await bring(client, orgs, codes["paused"], "supplement_requested")
    past = datetime.now(UTC) - timedelta(days=1)
    for name in ("late", "late2", "done", "paused"):
        await db.execute("UPDATE dossiers SET appointment_at = $2 WHERE code = $1", codes[name], past)

    assert await scan() == 2
    assert await scan() == 0
    marked = await db.fetch(
        "SELECT d.code, e.status_after FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id"
        " WHERE e.type = 'overdue' ORDER BY d.code"
    )
    assert [(r["code"], r["status_after"]) for r in marked] == sorted(
        [(codes["late"], "received"), (codes["late2"], "processing")]
    )

    # The apology must give a later date than the current one.
    earlier = await agency_event(
        client, orgs, codes["late"], "apology", new_appointment_at=(past - timedelta(days=1)).isoformat()
    )
    body = await _problem(earlier, 422, "validation.failed")
    assert body["errors"][0]["field"] == "new_appointment_at"
    # Not overdue: nothing to apologise for.
    await _problem(await agency_event(client, orgs, codes["ontime"], "apology"), 409, "dossier.invalid_transition")

    new_date = datetime.now(UTC) + timedelta(days=10)
    answer = await agency_event(
        client, orgs, codes["late"], "apology", new_appointment_at=new_date.isoformat(), note="Xin lỗi ông An"
    )
    assert answer.status == 201, await answer.text()
    apology = await answer.json()
    assert apology["status_after"] == "received"
    assert datetime.fromisoformat(apology["data"]["previous_appointment_at"]) == past
    assert datetime.fromisoformat(apology["data"]["appointment_at"]) == new_date
    # One apology per overdue appointment: the new one is not overdue.
    await _problem(
        await agency_event(
            client, orgs, codes["late"], "apology", new_appointment_at=(new_date + timedelta(days=1)).isoformat()
        ),
        409,
        "dossier.invalid_transition",
    )

    tracked = await client.get(
        f"/v1/track/{codes['late']}", headers={"X-Tracking-Pin": receipts["late"]["tracking_pin"]}
    )
    view = await tracked.json()
    assert datetime.fromisoformat(view["appointment_at"]) == new_date
    assert [item["label"] for item in view["timeline"]][-2:] == [
        "Hồ sơ đã quá hạn giải quyết",
        "Cơ quan gửi văn bản xin lỗi và hẹn lại ngày trả kết quả",
    ]

    # The new appointment passes too: the dossier is overdue again, once.
    await db.execute(
        "UPDATE dossiers SET appointment_at = $2 WHERE code = $1",
        codes["late"],
        datetime.now(UTC) - timedelta(minutes=1),
    )
    assert await scan() == 1
    assert await scan() == 0
