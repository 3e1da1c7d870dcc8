"""Integration (real PostgreSQL, the gateway with its worker, the VNPost simulator on a real port): a result
mailed to the citizen is ordered with an S10 number from our pool and followed by signed callbacks until it
is delivered (the dossier is returned) or comes back to the counter; faulty callbacks are refused; quiet
items are polled; the number pool never reuses a number within 12 months."""

import asyncio
import json
import time
from datetime import datetime, timedelta

import pytest

from adapters.postal import signing
from adapters.postal.s10 import check_digit, s10_problem
from adapters.postal.simulator import SimulatorConfig, start_postal_simulator
from gateway.app import create_app
from gateway.keys import SERVICES
from gateway.store import postal as postal_store
from gateway.store.embedded import free_port
from gateway.store.postal import PoolExhausted
from gateway.workflow.postal import poll_quiet
from mapping.calendar import VN_TZ
from tests.mailing import MAILED, SECRET, mail_a_result, simulator_control, tracked_by_pin, until, with_vnpost
from tests.samples import postal_dossier


async def test_a_mailed_result_is_followed_until_delivered_and_the_dossier_is_returned(gateway, orgs, db):
    receipt = await mail_a_result(gateway, orgs)

    async def returned():
        tracked = await tracked_by_pin(gateway, receipt)
        return tracked if tracked["status"] == "returned" else None

    tracked = await until(returned)
    item = tracked["postal"]
    assert s10_problem(item["item_code"]) is None and item["item_code"].startswith("RR")
    assert item["status"] == "delivered" and item["status_label"] == "Đã phát thành công"
    assert len(item["events"]) == 6 and item["events"][0]["status_label"] == "Đã tạo đơn gửi"
    events = await (await gateway.get(f"/v1/dossiers/{receipt['code']}/events", headers=orgs.admin.auth)).json()
    types = [e["type"] for e in events["items"]]
    assert types[-3:] == ["result_ready", "result_mailed", "returned"]
    returned_event = events["items"][-1]
    assert returned_event["data"]["via"] == "postal" and returned_event["data"]["item_code"] == item["item_code"]
    view = await (await gateway.get(f"/v1/dossiers/{receipt['code']}", headers=orgs.admin.auth)).json()
    assert view["dvcqg_status"] == 10
    order = await db.fetchval("SELECT status FROM outbox WHERE kind = 'postal.result_order'")
    assert order == "delivered"


async def test_a_result_returned_to_sender_comes_back_to_the_counter_and_the_citizen_is_told(gateway, orgs, vnpost):
    await simulator_control(vnpost[0], "returned")
    receipt = await mail_a_result(gateway, orgs)

    async def back():
        tracked = await tracked_by_pin(gateway, receipt)
        return tracked if tracked["postal"] and tracked["postal"]["status"] == "returned_to_sender" else None

    tracked = await until(back)
    assert tracked["status"] == "result_ready"  # not returned: the citizen has not got it
    assert "mời công dân nhận tại nơi đã nộp hồ sơ" in tracked["timeline"][-1]["label"]
    handed = await gateway.post(
        f"/v1/agency/dossiers/{receipt['code']}/events", json={"type": "returned"}, headers=orgs.agency.auth
    )
    assert handed.status == 201 and (await handed.json())["status_after"] == "returned"


async def test_duplicate_and_out_of_order_callbacks_are_stored_once_and_end_delivered(gateway, orgs, vnpost, db):
    await simulator_control(vnpost[0], "duplicate_out_of_order")
    receipt = await mail_a_result(gateway, orgs)

    async def returned():
        return (await tracked_by_pin(gateway, receipt))["status"] == "returned"

    await until(returned)
    await asyncio.sleep(0.5)  # the last duplicates arrive
    codes = [row["code"] for row in await db.fetch("SELECT code FROM postal_events")]
    assert sorted(codes) == [1, 10, 11, 12, 14, 101]  # every callback twice, each stored once
    returned_events = await db.fetchval("SELECT count(*) FROM dossier_events WHERE type = 'returned'")
    assert returned_events == 1


def _signed(body: dict, *, secret: str = SECRET, at: float | None = None) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    timestamp = int(at if at is not None else time.time())
    headers = {
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.sign(secret.encode(), timestamp, raw),
        "Content-Type": "application/json",
    }
    return raw, headers


async def test_faulty_callbacks_are_refused(gateway, orgs, db):
    event = {"ItemCode": "RR000000005VN", "Status": 14, "TraceDate": "23/11/2026 10:15:00"}
    cases = {
        "bad signature": (*_signed(event, secret="another-secret"), 401, "postal.callback_signature"),
        "stale": (*_signed(event, at=time.time() - 3600), 401, "postal.callback_stale"),
        "malformed": (*_signed({"ItemCode": "RR000000005VN", "Status": "?"}), 422, "postal.malformed"),
        "unknown item": (*_signed(event), 404, "postal.item_unknown"),
    }
    for name, (raw, headers, status, problem) in cases.items():
        answer = await gateway.post("/v1/postal/callbacks", data=raw, headers=headers)
        body = await answer.json()
        assert (answer.status, body["code"]) == (status, problem), name
    unsigned = await gateway.post("/v1/postal/callbacks", json=event)
    assert (unsigned.status, (await unsigned.json())["code"]) == (401, "postal.callback_unsigned")
    assert await db.fetchval("SELECT count(*) FROM postal_events") == 0


async def test_quiet_items_are_polled(aiohttp_client, settings, orgs, db):
    """Callbacks lost (VNPost calls a dead address): the poll of quiet items brings the events in."""
    config = SimulatorConfig(
        username="motcua",
        password="mat-khau",
        customer_code="MOTCUA-HN",
        callback_url=f"http://127.0.0.1:{free_port()}/nobody-listens",
        callback_secret=SECRET.encode(),
        tick_seconds=0.02,
    )
    runner, url = await start_postal_simulator(config)
    try:
        configured = with_vnpost(settings, url, postal_poll_seconds=3600)  # this test polls by hand
        client = await aiohttp_client(create_app(configured, with_worker=True))
        receipt = await mail_a_result(client, orgs)

        async def ordered():
            return await db.fetchval("SELECT item_code FROM postal_items WHERE ordered_at IS NOT NULL")

        item_code = await until(ordered)
        await asyncio.sleep(0.5)  # VNPost moves the item meanwhile; nobody hears of it
        assert await db.fetchval("SELECT count(*) FROM postal_events") == 0
        await db.execute("UPDATE postal_items SET last_event_at = now() - interval '3 days'")
        assert await poll_quiet(client.app[SERVICES]) == 1
        assert await db.fetchval("SELECT status FROM postal_items WHERE item_code = $1", item_code) == "delivered"
        assert (await tracked_by_pin(client, receipt))["status"] == "returned"
        assert await poll_quiet(client.app[SERVICES]) == 0  # delivered: never polled again
    finally:
        await runner.cleanup()


async def test_the_pool_allocates_in_order_and_never_reuses_a_number_within_12_months(db):
    def number(serial: int) -> str:
        return f"RR{serial:08d}{check_digit(f'{serial:08d}')}VN"

    first = await postal_store.allocate_s10(db, ["RR"])
    second = await postal_store.allocate_s10(db, ["RR"])
    assert (first, second) == (number(0), number(1)) == ("RR000000005VN", "RR000000014VN")
    # VNPost assigned a number of our range to someone else's item: the pool skips it.
    assert await postal_store.mark_used(db, number(2))
    assert await postal_store.allocate_s10(db, ["RR"]) == number(3)
    assert not await postal_store.mark_used(db, first)  # used within 12 months
    await db.execute("UPDATE s10_used SET used_at = now() - interval '13 months' WHERE item_code = $1", first)
    assert await postal_store.mark_used(db, first)  # free again after 12 months


async def test_an_exhausted_prefix_moves_to_the_next_and_then_stops(db):
    await db.execute("INSERT INTO s10_serials (prefix, next_serial) VALUES ('RR', 100000000)")
    assert (await postal_store.allocate_s10(db, ["RR", "RS"])).startswith("RS")
    await db.execute("UPDATE s10_serials SET next_serial = 100000000")
    with pytest.raises(PoolExhausted):
        await postal_store.allocate_s10(db, ["RR", "RS"])


async def test_cod_reconciliation_sums_due_against_paid(gateway, orgs, vnpost, db):
    """Two mailed results with the 200,000 VND fee still due: one delivered and its COD paid out, one returned
    to sender (nothing collected); the period's report says so, as JSON and as CSV."""
    unpaid_fee = {**MAILED, "fees": []}
    paid = await mail_a_result(gateway, orgs, key="paid", body=unpaid_fee)

    async def cod_paid():
        return await db.fetchval("SELECT count(*) FROM postal_events WHERE code = 21")

    await until(cod_paid)
    await simulator_control(vnpost[0], "returned")
    back = await mail_a_result(gateway, orgs, key="back", body=unpaid_fee)

    async def returned():
        return await db.fetchval("SELECT count(*) FROM postal_items WHERE status = 'returned_to_sender'")

    await until(returned)
    today = datetime.now(VN_TZ).date()
    url = f"/v1/admin/postal/reconciliation?from={today - timedelta(days=1)}&to={today}"
    report = await (await gateway.get(url, headers=orgs.admin.auth)).json()
    assert report["totals"] == {
        "items": 2,
        "cod_due": 400_000,
        "cod_paid": 200_000,
        "outstanding": 200_000,
        "overpaid": 0,
    }
    by_dossier = {item["dossier_code"]: item for item in report["items"]}
    assert by_dossier[paid["code"]]["difference"] == 0 and by_dossier[back["code"]]["difference"] == 200_000
    csv_answer = await gateway.get(url + "&format=csv", headers=orgs.admin.auth)
    text = (await csv_answer.read()).decode("utf-8")
    assert csv_answer.content_type == "text/csv" and text.startswith("\ufeffitem_code,dossier_code")
    assert len(text.strip().splitlines()) == 3
    earlier = f"/v1/admin/postal/reconciliation?from={today - timedelta(days=9)}&to={today - timedelta(days=2)}"
    assert (await (await gateway.get(earlier, headers=orgs.admin.auth)).json())["totals"]["items"] == 0
    assert (await gateway.get(url, headers=orgs.postal.auth)).status == 403
    bad = await gateway.get("/v1/admin/postal/reconciliation?from=2026-13-01&to=2026-11-01", headers=orgs.admin.auth)
    assert (bad.status, (await bad.json())["code"]) == (400, "query.invalid")


async def test_the_sealed_dossiers_number_from_a_post_office_is_never_handed_out_by_our_pool(client, orgs, db):
    """A post office files a dossier sealed under a number that happens to lie in our pool's range: the pool
    skips it."""
    body = postal_dossier(channel={"type": "postal", "post_office_code": "100000", "item_number": "RR000000005VN"})
    answer = await client.post("/v1/dossiers", json=body, headers={**orgs.postal.auth, "Idempotency-Key": "sealed"})
    assert answer.status == 201, await answer.text()
    assert await postal_store.allocate_s10(db, ["RR"]) == "RR000000014VN"
