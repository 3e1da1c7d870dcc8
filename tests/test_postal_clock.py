"""Integration: a postal dossier's appointment is an estimate until the agency has the paper dossier, and
the legal clock then starts from that acknowledgement."""

from datetime import datetime, timedelta

from mapping import WorkingCalendar, load_catalog
from tests.samples import counter_dossier, file_dossier, postal_dossier

CALENDAR = WorkingCalendar()
PROCEDURE = load_catalog().procedure("2.000488", datetime.now().date())


async def test_postal_receipt_shows_an_estimate_with_transit_time(client, orgs, settings):
    """A postal receipt's appointment adds the configured transit time before the processing time."""
    receipt = await file_dossier(client, orgs.postal, postal_dossier(), "p1")
    received = datetime.fromisoformat(receipt["received_at"])
    transit = timedelta(hours=settings.postal_transit_hours)
    assert receipt["appointment_estimated"] is True
    assert datetime.fromisoformat(receipt["appointment_at"]) == CALENDAR.postal_estimate(
        received, PROCEDURE.processing, PROCEDURE.same_day_cutoff, transit
    )
    assert datetime.fromisoformat(receipt["appointment_at"]) > CALENDAR.appointment(received, PROCEDURE.processing)


async def test_counter_receipt_is_dated_from_receipt(client, orgs):
    """A counter receipt's appointment is the legal one at once, counted from the receipt."""
    receipt = await file_dossier(
        client, orgs.counter, counter_dossier(applicant={**postal_dossier()["applicant"]}), "c1"
    )
    assert receipt["appointment_estimated"] is False
    assert datetime.fromisoformat(receipt["appointment_at"]) == CALENDAR.appointment(
        datetime.fromisoformat(receipt["received_at"]), PROCEDURE.processing
    )


async def test_agency_receipt_of_the_paper_dossier_starts_the_legal_clock(client, orgs):
    """When the agency reports the paper dossier received, the appointment is re-dated from that moment,
    shown to the submitter and the citizen, and the event keeps the old and new dates."""
    receipt = await file_dossier(client, orgs.postal, postal_dossier(), "p2")
    reported = await client.post(
        f"/v1/agency/dossiers/{receipt['code']}/events", json={"type": "physical_received"}, headers=orgs.agency.auth
    )
    assert reported.status == 201, await reported.text()
    event = await reported.json()
    expected = CALENDAR.appointment(datetime.fromisoformat(event["occurred_at"]), PROCEDURE.processing)
    assert datetime.fromisoformat(event["data"]["appointment_at"]) == expected
    assert event["data"]["previous_appointment_at"] == receipt["appointment_at"]
    assert event["status_after"] == "received"  # the status does not move

    view = await (await client.get(f"/v1/dossiers/{receipt['code']}", headers=orgs.postal.auth)).json()
    assert datetime.fromisoformat(view["appointment_at"]) == expected
    tracked = await (
        await client.get(f"/v1/track/{receipt['code']}", headers={"X-Tracking-Pin": receipt["tracking_pin"]})
    ).json()
    assert datetime.fromisoformat(tracked["appointment_at"]) == expected


async def test_paper_dossier_is_received_once_and_only_for_postal_dossiers(client, orgs):
    """A second report of the paper dossier is 409, and a counter dossier has no paper dossier in the post."""
    postal = await file_dossier(client, orgs.postal, postal_dossier(), "p3")
    url = f"/v1/agency/dossiers/{postal['code']}/events"
    assert (await client.post(url, json={"type": "physical_received"}, headers=orgs.agency.auth)).status == 201
    again = await client.post(url, json={"type": "physical_received"}, headers=orgs.agency.auth)
    assert again.status == 409 and (await again.json())["code"] == "dossier.invalid_transition"

    counter = await file_dossier(
        client, orgs.counter, counter_dossier(applicant={**postal_dossier()["applicant"]}), "c2"
    )
    refused = await client.post(
        f"/v1/agency/dossiers/{counter['code']}/events", json={"type": "physical_received"}, headers=orgs.agency.auth
    )
    assert refused.status == 409 and (await refused.json())["code"] == "event.not_applicable"
