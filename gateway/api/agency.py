"""Agency side: the pull inbox with acknowledgements, and progress events on routed dossiers."""

import base64
import binascii
import re
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from aiohttp import web

from gateway.api.intake import dossier_not_found, event_view
from gateway.errors import BadRequest, Conflict, NotFound, Unprocessable
from gateway.http import authenticate, json_response, read_json, validate
from gateway.keys import SERVICES, Services
from gateway.schemas import AgencyEventRequest
from gateway.store import dossiers, outbox
from gateway.store.clients import Principal
from gateway.workflow import clock, lifecycle, returning, steps
from gateway.workflow import documents as uploads
from gateway.workflow.forwarding import record_forwarded

routes = web.RouteTableDef()
MAX_PAGE = 200
CLOCK_SKEW = timedelta(minutes=5)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"o:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "o" or not re.fullmatch(r"[0-9]{1,18}", value):  # fits a bigint
            raise ValueError(text)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest("Con trỏ trang (cursor) không hợp lệ.", code="cursor.invalid") from exc


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "50")
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest(
            f"limit phải là số nguyên từ 1 đến {MAX_PAGE}.",
            code="query.invalid",
            errors=[{"field": "limit", "type": "query.invalid", "message": "Giá trị không hợp lệ."}],
        )
    return int(raw)


@routes.get("/v1/agency/inbox")
async def inbox(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    principal = await authenticate(request, "agency")
    limit = _limit(request)
    after = decode_cursor(request.query["cursor"]) if request.query.get("cursor") else 0
    async with services.connection() as conn:
        rows = await outbox.inbox_page(conn, principal.agency_code or "", after, limit + 1)
    page, more = rows[:limit], len(rows) > limit
    return json_response(
        {
            "items": [
                {
                    "message_id": r["message_id"],
                    "dossier_code": r["dossier_code"],
                    "identity_status": r["identity_status"],
                    "created_at": r["created_at"],
                    "payload": r["payload"],
                }
                for r in page
            ],
            "next_cursor": encode_cursor(page[-1]["id"]) if more else None,
        }
    )


def _message_not_found() -> NotFound:
    return NotFound("Không tìm thấy thông điệp này trong hộp thư của cơ quan.", code="message.not_found")


@routes.post("/v1/agency/inbox/{message_id}/ack")
async def acknowledge(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    principal = await authenticate(request, "agency")
    try:
        message_id = uuid.UUID(request.match_info["message_id"])
    except ValueError as exc:
        raise _message_not_found() from exc
    async with services.connection() as conn, conn.transaction():
        message = await outbox.get_inbox_message(conn, message_id, principal.agency_code or "")
        if message is None:
            raise _message_not_found()
        if message["status"] == "delivered":  # a repeated ack answers the same, records nothing new
            acknowledged_at = message["delivered_at"]
        else:
            acknowledged_at = (
                await outbox.mark_delivered(
                    conn, message["id"], {"mode": "pull", "acknowledged_by": principal.organisation_id}
                )
            )["delivered_at"]
            await record_forwarded(
                conn,
                message["dossier_code"],
                at=acknowledged_at,
                actor_org_id=principal.organisation_id,
                mode="pull",
                message_id=str(message_id),
            )
    return json_response(
        {"message_id": message_id, "dossier_code": message["dossier_code"], "acknowledged_at": acknowledged_at}
    )


@routes.post("/v1/agency/dossiers/{code}/events")
async def report_event(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    principal = await authenticate(request, "agency")
    event = validate(AgencyEventRequest, await read_json(request))
    now = datetime.now(UTC)
    occurred_at = event.occurred_at or now
    if occurred_at > now + CLOCK_SKEW:
        raise Unprocessable(
            "Thời điểm xảy ra sự kiện không được ở tương lai.",
            errors=[{"field": "occurred_at", "type": "event.future", "message": "Thời điểm ở tương lai."}],
        )
    code = request.match_info["code"]
    async with services.connection() as conn, conn.transaction():
        dossier = await dossiers.get_by_code(conn, code, for_update=True)
        step = await steps.acting_step(conn, dossier["id"], principal.agency_code or "") if dossier else None
        if step is None:  # unknown, or not (yet) this agency's business: the same answer
            raise dossier_not_found(code)
        if event.event_id:
            existing = await dossiers.find_event_by_external_id(conn, dossier["id"], event.event_id)
            if existing is not None:
                return json_response(event_view(existing), status=200)
        if occurred_at < dossier["received_at"]:
            raise Unprocessable(
                "Thời điểm xảy ra sự kiện không được trước thời điểm tiếp nhận hồ sơ.",
                errors=[
                    {"field": "occurred_at", "type": "event.before_received", "message": "Trước khi tiếp nhận hồ sơ."}
                ],
            )
        if event.type in steps.STEP_EVENTS:
            row = await _report_on_step(conn, dossier, step, event, occurred_at, principal.organisation_id)
        else:
            row = await _report_on_dossier(services, conn, dossier, event, occurred_at, principal)
    return json_response(event_view(row), status=201)


async def _report_on_step(
    conn: asyncpg.Connection,
    dossier: asyncpg.Record,
    step: asyncpg.Record,
    event: AgencyEventRequest,
    occurred_at: datetime,
    actor_org_id: int,
) -> asyncpg.Record:
    """Progress of the agency's own step; the dossier's status follows from all its steps."""
    transition = steps.check(event.type, step, dossier["status"])
    data = event.details
    if event.type == "supplement_requested":
        data |= await clock.stop_for_supplement(conn, dossier, occurred_at)
    elif event.type == "result_ready":
        data["documents"] = await uploads.step_results(conn, dossier["id"], step)
    status, composite = await steps.move(conn, dossier["id"], step, transition.to, occurred_at, result=event.details)
    if composite:
        data |= {"step": steps.describe(step)}
    row = await dossiers.append_event(
        conn,
        dossier["id"],
        type=event.type,
        status_after=status,
        occurred_at=occurred_at,
        actor_org_id=actor_org_id,
        external_id=event.event_id,
        data=data,
    )
    if event.type == "result_ready":
        await steps.advance(conn, dossier["id"], occurred_at)
    if status == "result_ready":
        await returning.result_ready(conn, dossier)
    return row


async def _report_on_dossier(
    services: Services,
    conn: asyncpg.Connection,
    dossier: asyncpg.Record,
    event: AgencyEventRequest,
    occurred_at: datetime,
    principal: Principal,
) -> asyncpg.Record:
    """Events about the whole dossier: the paper dossier arriving (first order's agencies), the result handed
    to the citizen (the lead agency), an apology with a new appointment (any agency at work on it)."""
    if event.type == "physical_received" and principal.agency_code not in await steps.lead_order(conn, dossier["id"]):
        raise Conflict(
            "Hồ sơ giấy được gửi đến cơ quan giải quyết bước đầu tiên; chỉ cơ quan đó báo đã nhận.",
            code="event.not_applicable",
        )
    if event.type == "returned" and principal.agency_code != dossier["agency_code"]:
        raise Conflict(
            "Kết quả của hồ sơ liên thông do cơ quan tiếp nhận bước đầu tiên trả cho công dân.",
            code="event.not_applicable",
        )
    transition = lifecycle.apply(event.type, dossier["status"])
    data = event.details
    if event.type == "physical_received":
        data |= await clock.start_on_physical_receipt(services, conn, dossier, occurred_at)
    elif event.type == "apology":
        assert event.new_appointment_at is not None  # the schema requires it for this type
        data |= await clock.apologise(conn, dossier, event.new_appointment_at, occurred_at)
    return await dossiers.append_event(
        conn,
        dossier["id"],
        type=event.type,
        status_after=transition.to or dossier["status"],
        occurred_at=occurred_at,
        actor_org_id=principal.organisation_id,
        external_id=event.event_id,
        data=data,
    )
