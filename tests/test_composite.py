"""Integration (real PostgreSQL, real HTTP): composite procedures (liên thông). Each step is delivered to its
own agency in order, equal orders side by side; each agency sees and reports on its step only once it has
started; the dossier's status adds its steps up; the result is the citizen's when every step has one."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from adapters.agency.simulator import AgencySimulatorConfig, start_agency_simulator
from gateway.app import create_app
from gateway.store import endpoints, outbox
from gateway.store.audit import verify_chains
from gateway.worker import claim
from gateway.workflow.steps import aggregate
from tests.agency_simulator import simulator
from tests.conftest import Org, make_org
from tests.samples import SHA, document, file_dossier, postal_dossier

BIRTH = "2.000986"  # birth registration (1) → permanent residence (2) → health-insurance card (3)
DEATH = "1.011537"  # death registration (1) → residence removal (2) and funeral allowance (2), side by side
UBND, CONG_AN, BHXH = "000.04.00.H26", "000.04.20.H26", "000.00.40.H26"  # phường Ba Đình, Hà Nội


def composite_dossier(procedure: str) -> dict:
    second = "GCS" if procedure == BIRTH else "GBT"
    return postal_dossier(procedure_code=procedure, documents=[document("TK_LT"), document(second)], fees=[])


@dataclass
class Agencies:
    ubnd: Org
    cong_an: Org
    bhxh: Org

    def __getitem__(self, code: str) -> Org:
        return {UBND: self.ubnd, CONG_AN: self.cong_an, BHXH: self.bhxh}[code]


@pytest.fixture
async def agencies(db) -> Agencies:
    return Agencies(
        ubnd=await make_org(db, "UBND phường Ba Đình", "agency", agency_code=UBND),
        cong_an=await make_org(db, "Công an phường Ba Đình", "agency", agency_code=CONG_AN),
        bhxh=await make_org(db, "Bảo hiểm xã hội thành phố Hà Nội", "agency", agency_code=BHXH),
    )


async def _file(client, orgs, procedure: str, key: str = "k") -> dict:
    return await file_dossier(client, orgs.postal, composite_dossier(procedure), key)


async def _inbox(client, agency: Org) -> list[dict]:
    answer = await client.get("/v1/agency/inbox", headers=agency.auth)
    assert answer.status == 200, await answer.text()
    return (await answer.json())["items"]


async def _ack(client, agency: Org, code: str) -> dict:
    (message,) = [m for m in await _inbox(client, agency) if m["dossier_code"] == code]
    answer = await client.post(f"/v1/agency/inbox/{message['message_id']}/ack", headers=agency.auth)
    assert answer.status == 200, await answer.text()
    return message


async def _event(client, agency: Org, code: str, event: str, **fields):
    return await client.post(f"/v1/agency/dossiers/{code}/events", json={"type": event, **fields}, headers=agency.auth)


async def _ok(answer) -> dict:
    assert answer.status == 201, await answer.text()
    return await answer.json()


async def _view(client, orgs, code: str) -> dict:
    answer = await client.get(f"/v1/dossiers/{code}", headers=orgs.admin.auth)
    assert answer.status == 200, await answer.text()
    return await answer.json()


async def _step_statuses(client, orgs, code: str) -> dict[str, str]:
    return {step["agency"]: step["status"] for step in (await _view(client, orgs, code))["steps"]}


async def _do_step(client, agency: Org, code: str, note: str) -> dict:
    """The agency takes its step from its inbox to its result."""
    message = await _ack(client, agency, code)
    await _ok(await _event(client, agency, code, "accepted"))
    await _ok(await _event(client, agency, code, "result_ready", note=note, officer="Cán bộ A"))
    return message


async def test_steps_go_to_their_agencies_in_order_and_the_result_comes_when_all_are_done(client, orgs, agencies, db):
    receipt = await _file(client, orgs, BIRTH)
    code = receipt["code"]
    assert code.startswith(f"{UBND}-")  # numbered under the lead agency
    assert [(s["order"], s["agency"]["identifier"]) for s in receipt["routing"]["steps"]] == [
        (1, UBND),
        (2, CONG_AN),
        (3, BHXH),
    ]
    assert await _step_statuses(client, orgs, code) == {UBND: "received", CONG_AN: "waiting", BHXH: "waiting"}
    # Only the first step's agency has it; the others cannot see it or report on it yet.
    assert await _inbox(client, agencies.cong_an) == [] and await _inbox(client, agencies.bhxh) == []
    for later in (agencies.cong_an, agencies.bhxh):
        assert (await client.get(f"/v1/dossiers/{code}", headers=later.auth)).status == 404
        assert (await _event(client, later, code, "accepted")).status == 404

    first = await _do_step(client, agencies.ubnd, code, note="Đã cấp Giấy khai sinh số 123")
    assert first["payload"]["step"] == {"order": 1, "name": "Đăng ký khai sinh", "of": 3}
    assert first["payload"]["previous_results"] == []
    assert (await _view(client, orgs, code))["status"] == "processing"
    assert await _step_statuses(client, orgs, code) == {UBND: "result_ready", CONG_AN: "received", BHXH: "waiting"}

    second = await _do_step(client, agencies.cong_an, code, note="Đã đăng ký thường trú")
    assert second["payload"]["step"]["order"] == 2
    (previous,) = second["payload"]["previous_results"]
    assert (previous["agency"], previous["result"]["note"]) == (UBND, "Đã cấp Giấy khai sinh số 123")
    assert (await _view(client, orgs, code))["status"] == "processing"

    third = await _do_step(client, agencies.bhxh, code, note="Đã cấp thẻ BHYT")
    assert [p["agency"] for p in third["payload"]["previous_results"]] == [UBND, CONG_AN]
    view = await _view(client, orgs, code)
    assert view["status"] == "result_ready" and {s["status"] for s in view["steps"]} == {"result_ready"}

    # The citizen's tracking page shows each step with its agency's name, none of what the officers wrote.
    track = await client.get(f"/v1/track/{code}", headers={"X-Tracking-Pin": receipt["tracking_pin"]})
    tracked = await track.json()
    assert tracked["status"] == "result_ready"
    assert [(s["order"], s["agency"], s["status"]) for s in tracked["steps"]] == [
        (1, "UBND phường Ba Đình", "result_ready"),
        (2, "Công an phường Ba Đình", "result_ready"),
        (3, "Bảo hiểm xã hội thành phố Hà Nội", "result_ready"),
    ]
    assert "result" not in tracked["steps"][0] and "Cán bộ" not in await track.text()

    # The lead agency hands the result over; a step agency cannot.
    refused = await (await _event(client, agencies.bhxh, code, "returned")).json()
    assert refused["code"] == "event.not_applicable"
    assert (await _ok(await _event(client, agencies.ubnd, code, "returned")))["status_after"] == "returned"

    events = await (await client.get(f"/v1/dossiers/{code}/events", headers=orgs.admin.auth)).json()
    timeline = [(e["type"], e["data"].get("step", {}).get("agency"), e["status_after"]) for e in events["items"]]
    assert timeline == [
        ("received", None, "received"),
        ("document_received", None, "received"),
        ("document_received", None, "received"),
        ("forwarded", UBND, "forwarded"),
        ("accepted", UBND, "processing"),
        ("result_ready", UBND, "processing"),
        ("transferred", CONG_AN, "processing"),
        ("forwarded", CONG_AN, "processing"),
        ("accepted", CONG_AN, "processing"),
        ("result_ready", CONG_AN, "processing"),
        ("transferred", BHXH, "processing"),
        ("forwarded", BHXH, "processing"),
        ("accepted", BHXH, "processing"),
        ("result_ready", BHXH, "result_ready"),
        ("returned", None, "returned"),
    ]
    assert (await verify_chains(db)).broken == []
    deliveries = await db.fetch(
        "SELECT target, status FROM outbox WHERE kind = 'agency.deliver' ORDER BY id",
    )
    assert [(d["target"], d["status"]) for d in deliveries] == [
        (UBND, "delivered"),
        (CONG_AN, "delivered"),
        (BHXH, "delivered"),
    ]


async def test_equal_orders_run_side_by_side(client, orgs, agencies):
    receipt = await _file(client, orgs, DEATH)
    code = receipt["code"]
    await _do_step(client, agencies.ubnd, code, note="Đã cấp Trích lục khai tử")
    # Both second-order agencies have it at once.
    assert [m["dossier_code"] for m in await _inbox(client, agencies.cong_an)] == [code]
    assert [m["dossier_code"] for m in await _inbox(client, agencies.bhxh)] == [code]

    await _do_step(client, agencies.cong_an, code, note="Đã xóa đăng ký thường trú")
    assert (await _view(client, orgs, code))["status"] == "processing"  # the allowance is still being decided

    # A supplement asked by one step stops the dossier's clock; the citizen's answer resumes it.
    await _ack(client, agencies.bhxh, code)
    await _ok(await _event(client, agencies.bhxh, code, "accepted"))
    asked = await _ok(await _event(client, agencies.bhxh, code, "supplement_requested", missing_components=["Sổ BHXH"]))
    assert asked["status_after"] == "supplement_requested" and asked["data"]["step"]["agency"] == BHXH
    supplied = await client.post(
        f"/v1/dossiers/{code}/supplements",
        json={
            "documents": [
                {"component_code": "UQ", "name": "Sổ BHXH", "sha256": SHA, "size": 10, "media_type": "application/pdf"}
            ]
        },
        headers=orgs.postal.auth,
    )
    assert (await _ok(supplied))["status_after"] == "processing"
    assert await _step_statuses(client, orgs, code) == {
        UBND: "result_ready",
        CONG_AN: "result_ready",
        BHXH: "processing",
    }
    done = await _ok(await _event(client, agencies.bhxh, code, "result_ready", note="Đã chi trợ cấp mai táng"))
    assert done["status_after"] == "result_ready"


async def test_a_refusal_at_a_later_step_stops_the_dossier_and_cancels_the_rest(client, orgs, agencies, db):
    code = (await _file(client, orgs, DEATH))["code"]
    await _do_step(client, agencies.ubnd, code, note="Đã cấp Trích lục khai tử")
    await _ack(client, agencies.cong_an, code)  # the allowance's delivery is still in BHXH's inbox
    refused = await _ok(await _event(client, agencies.cong_an, code, "refused", reason="Không có hộ khẩu tại địa bàn"))
    assert refused["status_after"] == "stopped"  # earlier steps had taken the dossier in: not a plain refusal
    assert await _step_statuses(client, orgs, code) == {UBND: "result_ready", CONG_AN: "refused", BHXH: "cancelled"}
    assert await _inbox(client, agencies.bhxh) == []  # its undelivered dossier is withdrawn from its inbox
    cancelled = await db.fetchval("SELECT status FROM outbox WHERE kind = 'agency.deliver' AND target = $1", BHXH)
    assert cancelled == "cancelled"
    late = await (await _event(client, agencies.bhxh, code, "accepted")).json()
    assert (late["code"], late["current_status"]) == ("dossier.invalid_transition", "stopped")


async def test_a_refusal_at_the_first_step_refuses_the_dossier_and_delivers_nothing_more(client, orgs, agencies, db):
    code = (await _file(client, orgs, BIRTH))["code"]
    answer = await _ok(await _event(client, agencies.ubnd, code, "refused", reason="Giấy chứng sinh không hợp lệ"))
    assert answer["status_after"] == "refused"
    assert await _step_statuses(client, orgs, code) == {UBND: "refused", CONG_AN: "cancelled", BHXH: "cancelled"}
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'agency.deliver'") == 1
    assert await _inbox(client, agencies.ubnd) == []  # refused before anyone took it: not delivered any more


async def test_a_withdrawal_cancels_the_steps_and_the_deliveries_not_taken(client, orgs, agencies):
    code = (await _file(client, orgs, DEATH))["code"]
    await _do_step(client, agencies.ubnd, code, note="Đã cấp Trích lục khai tử")
    await _ack(client, agencies.cong_an, code)
    withdrawn = await client.post(
        f"/v1/dossiers/{code}/withdraw", json={"reason": "Gia đình tự làm"}, headers=orgs.postal.auth
    )
    assert (await _ok(withdrawn))["status_after"] == "withdrawn"
    assert await _step_statuses(client, orgs, code) == {UBND: "result_ready", CONG_AN: "cancelled", BHXH: "cancelled"}
    assert await _inbox(client, agencies.bhxh) == []
    assert (await (await _event(client, agencies.cong_an, code, "accepted")).json())["current_status"] == "withdrawn"


async def test_the_paper_dossier_goes_to_the_first_step(client, orgs, agencies):
    code = (await _file(client, orgs, BIRTH))["code"]
    await _do_step(client, agencies.ubnd, code, note="Đã cấp Giấy khai sinh")
    await _ack(client, agencies.cong_an, code)
    answer = await (await _event(client, agencies.cong_an, code, "physical_received")).json()
    assert answer["code"] == "event.not_applicable"
    assert (await _ok(await _event(client, agencies.ubnd, code, "physical_received")))["type"] == "physical_received"


async def test_one_agency_down_does_not_hold_up_the_other_of_the_same_order(client, orgs, agencies, db):
    """The worker's per-dossier order is per target: both second-order pushes are claimable at once."""
    code = (await _file(client, orgs, DEATH))["code"]
    await _do_step(client, agencies.ubnd, code, note="Đã cấp Trích lục khai tử")
    for agency in (CONG_AN, BHXH):
        await db.execute(
            "INSERT INTO agency_endpoints (agency_code, url) VALUES ($1, 'http://127.0.0.1:9/inbox')", agency
        )
    deliveries = [outbox.AGENCY_DELIVER]
    first = await claim(db, 60, deliveries)
    second = await claim(db, 60, deliveries)
    assert first is not None and second is not None
    assert {first["target"], second["target"]} == {CONG_AN, BHXH}
    assert await claim(db, 60, deliveries) is None


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["received"], "received"),
        (["forwarded"], "forwarded"),
        (["processing"], "processing"),
        (["result_ready"], "result_ready"),
        (["refused"], "refused"),
        (["stopped"], "stopped"),
        (["supplement_requested"], "supplement_requested"),
        (["payment_requested"], "payment_requested"),
        (["received", "waiting", "waiting"], "received"),
        (["forwarded", "waiting"], "forwarded"),
        (["result_ready", "received", "waiting"], "processing"),
        (["result_ready", "forwarded", "waiting"], "processing"),
        (["result_ready", "result_ready", "result_ready"], "result_ready"),
        (["result_ready", "supplement_requested", "processing"], "supplement_requested"),
        (["result_ready", "payment_requested", "processing"], "payment_requested"),
        (["result_ready", "refused", "cancelled"], "stopped"),
        (["refused", "cancelled", "cancelled"], "refused"),
        (["received", "refused", "cancelled"], "refused"),
        (["processing", "refused"], "stopped"),
        (["stopped", "cancelled"], "stopped"),
    ],
)
def test_the_dossier_status_adds_its_steps_up(statuses, expected):
    assert aggregate(statuses) == expected


@pytest.fixture
async def gateway(aiohttp_client, settings):
    fast = settings.model_copy(update={"worker_poll_seconds": 0.05, "delivery_timeout_seconds": 2.0})
    return await aiohttp_client(create_app(fast, with_worker=True))


@pytest.fixture
async def pushed_agencies(gateway, db) -> AsyncIterator[dict[str, str]]:
    """An agency simulator per step agency, each checking the gateway's signatures; their URLs by code."""
    jwks = str(gateway.make_url("/.well-known/jwks.json"))
    runners, urls = [], {}
    for code in (UBND, CONG_AN, BHXH):
        runner, url = await start_agency_simulator(AgencySimulatorConfig(jwks_url=jwks, agency_code=code))
        await endpoints.set_endpoint(db, code, f"{url}/inbox")
        runners.append(runner)
        urls[code] = url
    yield urls
    for runner in runners:
        await runner.cleanup()


async def _until_received(url: str, code: str, seconds: float = 20.0) -> dict:
    async with asyncio.timeout(seconds):
        while code not in (seen := await simulator(url))["dossiers"]:  # noqa: ASYNC110 - polling a peer over HTTP
            await asyncio.sleep(0.05)
    return seen


async def _until_steps(client, orgs, code: str, expected: dict[str, str], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while await _step_statuses(client, orgs, code) != expected:  # noqa: ASYNC110 - the worker records it
            await asyncio.sleep(0.05)


async def test_pushed_steps_reach_each_agency_once_and_a_down_agency_holds_up_only_itself(
    gateway, pushed_agencies, orgs, agencies
):
    """Through the real worker and three agency simulators: the first step is pushed at intake, the second
    order's two agencies when the first has its result; with one of them down, the other still gets its
    dossier at once, and the down one gets it when it is back, each message once, every signature checked."""
    code = (await _file(gateway, orgs, DEATH))["code"]
    await _until_received(pushed_agencies[UBND], code)
    await _until_steps(gateway, orgs, code, {UBND: "forwarded", CONG_AN: "waiting", BHXH: "waiting"})
    assert (await _view(gateway, orgs, code))["status"] == "forwarded"
    await simulator(pushed_agencies[BHXH], {"mode": "down", "seconds": 2.5})
    await _ok(await _event(gateway, agencies.ubnd, code, "accepted"))
    await _ok(await _event(gateway, agencies.ubnd, code, "result_ready", note="Đã cấp Trích lục khai tử"))

    await _until_received(pushed_agencies[CONG_AN], code, seconds=2.0)  # not held up by BHXH being down
    assert code not in (await simulator(pushed_agencies[BHXH]))["dossiers"]
    await _until_received(pushed_agencies[BHXH], code, seconds=40)
    # The agency's answer is recorded just after it arrives there.
    await _until_steps(gateway, orgs, code, {UBND: "result_ready", CONG_AN: "forwarded", BHXH: "forwarded"})
    seen = {code: await simulator(url) for code, url in pushed_agencies.items()}
    assert all(set(one["messages"].values()) == {1} for one in seen.values())  # each message once
    assert seen[UBND]["rejected"] == seen[CONG_AN]["rejected"] == 0  # signatures verified
    assert seen[BHXH]["rejected"] > 0  # its 503s while down
