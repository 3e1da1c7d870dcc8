"""Intake and read access for submitting clients (post offices, counters), agencies and admins; the intake path
shared with the portal's online dossiers (gateway/api/portal.py)."""

import asyncio
import contextlib
import json
import re
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from gateway.errors import BadRequest, Conflict, NotFound, Unprocessable
from gateway.http import authenticate, json_response, read_json, validate
from gateway.keys import SERVICES
from gateway.metrics import IntakeAttempt
from gateway.schemas import IntakeRequest, SupplementRequest, WithdrawRequest
from gateway.store import dossiers, idempotency
from gateway.store import identity as identity_store
from gateway.store import steps as dossier_steps
from gateway.store.clients import Principal
from gateway.workflow import clock, identity, intake, steps
from gateway.workflow.lifecycle import STATUSES, TRANSITIONS, apply
from mapping.calendar import VN_TZ

routes = web.RouteTableDef()
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise BadRequest(
            "Thiếu tiêu đề Idempotency-Key: mỗi hồ sơ cần một khóa duy nhất để gửi lại an toàn khi lỗi mạng.",
            code="idempotency.key_missing",
        )
    if not _IDEMPOTENCY_KEY.match(key):
        raise BadRequest(
            "Idempotency-Key phải gồm 1–200 ký tự ASCII in được, không có khoảng trắng.",
            code="idempotency.key_invalid",
        )
    return key


@routes.post("/v1/dossiers")
async def create_dossier(request: web.Request) -> web.Response:
    with request.app[SERVICES].metrics.intake_attempt() as attempt:
        principal = await authenticate(request, "postal", "counter")
        attempt.channel = intake.CHANNEL_OF_ROLE[principal.role]
        body = await read_json(request)
        key = idempotency_key(request)
        return await accept_dossier(request, principal, body, key, validate(IntakeRequest, body), attempt)


async def accept_dossier(
    request: web.Request, principal: Principal, body: Any, key: str, filing: IntakeRequest, attempt: IntakeAttempt
) -> web.Response:
    """The one intake path of every channel (post offices and counters here, the portal's online dossiers in
    gateway/api/portal.py): prepare, claim the key (a replay answers the stored receipt), verify the applicant,
    commit with the receipt sealed for replays; 201 with the receipt. `body` is the request as sent (its
    fingerprint binds the key), `filing` what it was validated into; `attempt` is counted by the caller (a
    replay is marked here)."""
    services = request.app[SERVICES]
    prepared = intake.prepare(services, principal, filing, datetime.now(VN_TZ))

    settings = services.settings
    async with services.connection() as conn:
        claim = await idempotency.claim(
            conn,
            principal.organisation_id,
            key,
            intake.request_fingerprint(body),
            settings.idempotency_lease_seconds,
            settings.idempotency_ttl_hours,
        )
        if claim.outcome == "mismatch":
            raise Unprocessable(
                "Idempotency-Key này đã được dùng cho một hồ sơ khác; hãy dùng khóa mới cho hồ sơ mới.",
                code="idempotency.key_reused",
            )
        if claim.outcome == "in_flight":
            raise Conflict(
                "Yêu cầu với Idempotency-Key này đang được xử lý; vui lòng thử lại sau giây lát.",
                code="idempotency.in_flight",
                headers={"Retry-After": "1"},
            )
        if claim.outcome == "replay":
            opened = services.sealer.open(claim.response_body or b"")
            if opened is None:
                raise Conflict("Không mở được câu trả lời đã lưu cho khóa này.", code="idempotency.unreadable")
            original = json.loads(opened)
            attempt.outcome = "replayed"
            return json_response(
                original,
                status=claim.response_status or 201,
                headers={"Idempotent-Replayed": "true", "Location": f"/v1/dossiers/{original['code']}"},
            )
    assert claim.locked_at is not None
    try:
        # The look-up may take seconds: no pooled connection is held meanwhile.
        officer = identity.officer_of(principal.organisation_id, principal.key_prefix)
        verification = await identity.verify(services, officer, principal.unit_code, filing.applicant)
        async with services.connection() as conn:
            await _refuse_on_mismatch(services, conn, principal, filing, verification)
            receipt = await intake.commit(services, conn, principal, prepared, key, claim.locked_at, verification)
    except intake.IdempotencyLost as exc:
        raise Conflict(
            "Yêu cầu với Idempotency-Key này đã được một yêu cầu khác tiếp quản.", code="idempotency.in_flight"
        ) from exc
    except BaseException:
        # Nothing was committed: free the key so the client's retry (or corrected dossier) is processed afresh.
        with contextlib.suppress(Exception):
            await asyncio.shield(_release(services, principal.organisation_id, key, claim.locked_at))
        raise
    return json_response(receipt, status=201, headers={"Location": f"/v1/dossiers/{receipt['code']}"})


async def _release(services, organisation_id: int, key: str, locked_at) -> None:
    async with services.connection() as conn:
        await idempotency.release(conn, organisation_id, key, locked_at)


async def _refuse_on_mismatch(services, conn, principal: Principal, request: IntakeRequest, verification) -> None:
    """A register that disagrees refuses the intake (audited); a name matching only without diacritics needs
    the officer's explicit confirmation. The explanation says what differs, never what the register holds."""
    unconfirmed = verification.status == "partial" and not request.applicant.name_match_confirmed
    if verification.status != "mismatch" and not unconfirmed:
        return
    await identity_store.record_check(
        conn,
        dossier_id=None,
        organisation_id=principal.organisation_id,
        officer=verification.officer,
        request_id=verification.request_id or "-",
        outcome=verification.audit_outcome,
        error_code=None,
        latency_ms=verification.latency_ms,
    )
    field = "applicant.name_match_confirmed" if unconfirmed else "applicant"
    raise Unprocessable(
        verification.explanation,
        code="identity.mismatch",
        title="Thông tin công dân không khớp",
        errors=[
            {
                "field": field,
                "type": "identity.name_partial" if unconfirmed else "identity.mismatch",
                "message": verification.explanation,
            }
        ],
    )


async def may_see(conn: asyncpg.Connection, principal: Principal, dossier: asyncpg.Record) -> bool:
    """Admins see every dossier, submitters their own, agencies those where one of their steps started."""
    if principal.role == "admin":
        return True
    if principal.role == "agency":
        return await dossier_steps.agency_has_started_step(conn, dossier["id"], principal.agency_code or "")
    return dossier["submitter_org_id"] == principal.organisation_id


def dossier_not_found(code: str) -> NotFound:
    return NotFound(f"Không tìm thấy hồ sơ {code}.", code="dossier.not_found")


async def _visible_dossier(request: web.Request, principal: Principal, conn):
    code = request.match_info["code"]
    dossier = await dossiers.get_by_code(conn, code)
    # Another organisation's dossier is answered exactly like an unknown one: its existence is not told.
    if dossier is None or not await may_see(conn, principal, dossier):
        raise dossier_not_found(code)
    return dossier


def event_view(row) -> dict:
    transition = TRANSITIONS.get(row["type"])
    return {
        "seq": row["seq"],
        "type": row["type"],
        "label": transition.label if transition else row["type"],
        "status_after": row["status_after"],
        "occurred_at": row["occurred_at"],
        "recorded_at": row["recorded_at"],
        "data": row["data"],
    }


@routes.get("/v1/dossiers/{code}")
async def get_dossier(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    principal = await authenticate(request, "postal", "counter", "portal", "agency", "admin")
    async with services.connection() as conn:
        dossier = await _visible_dossier(request, principal, conn)
        dossier_step_rows = await dossier_steps.list_for(conn, dossier["id"])
    status = STATUSES[dossier["status"]]
    receipt = dossier["receipt"]
    return json_response(
        {
            "code": dossier["code"],
            "status": status.name,
            "status_label": status.label,
            "dvcqg_status": status.dvcqg,
            "procedure": receipt["procedure"],
            "agency": receipt["agency"],
            "channel": dossier["channel"],
            "identity_status": dossier["identity_status"],
            "received_at": dossier["received_at"],
            "appointment_at": dossier["appointment_at"],
            "steps": [steps.view(step) for step in dossier_step_rows],
            "receipt": receipt,
        }
    )


@routes.get("/v1/dossiers/{code}/events")
async def get_dossier_events(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    principal = await authenticate(request, "postal", "counter", "portal", "agency", "admin")
    async with services.connection() as conn:
        dossier = await _visible_dossier(request, principal, conn)
        events = await dossiers.list_events(conn, dossier["id"])
    return json_response({"items": [event_view(row) for row in events]})


async def _submitted_dossier(request: web.Request, principal: Principal, conn):
    """The caller's own dossier, locked: only the submitting organisation acts for the citizen on it."""
    code = request.match_info["code"]
    dossier = await dossiers.get_by_code(conn, code, for_update=True)
    if dossier is None or dossier["submitter_org_id"] != principal.organisation_id:
        raise dossier_not_found(code)
    return dossier


@routes.post("/v1/dossiers/{code}/withdraw")
async def withdraw_dossier(request: web.Request) -> web.Response:
    """The citizen withdraws the dossier through the post office or counter that filed it."""
    services = request.app[SERVICES]
    principal = await authenticate(request, "postal", "counter")
    body = validate(WithdrawRequest, await read_json(request) if request.body_exists else {})
    now = datetime.now(VN_TZ)
    async with services.connection() as conn, conn.transaction():
        dossier = await _submitted_dossier(request, principal, conn)
        transition = apply("withdrawn", dossier["status"])
        await steps.end(conn, dossier["id"], now)
        row = await dossiers.append_event(
            conn,
            dossier["id"],
            type="withdrawn",
            status_after=transition.to or dossier["status"],
            occurred_at=now,
            actor_org_id=principal.organisation_id,
            data=body.model_dump(mode="json", exclude_none=True),
        )
    return json_response(event_view(row), status=201)


@routes.post("/v1/dossiers/{code}/supplements")
async def supplement_dossier(request: web.Request) -> web.Response:
    """The supplement a dossier was asked for (form 02) arrives through the channel that filed it: the clock
    runs again and the appointment moves by the working time it stood still."""
    services = request.app[SERVICES]
    principal = await authenticate(request, "postal", "counter")
    body = validate(SupplementRequest, await read_json(request))
    now = datetime.now(VN_TZ)
    async with services.connection() as conn, conn.transaction():
        dossier = await _submitted_dossier(request, principal, conn)
        apply("supplement_received", dossier["status"])
        data = body.model_dump(mode="json", exclude_none=True)
        data |= await clock.resume_on_supplement(services, conn, dossier, now)
        row = await dossiers.append_event(
            conn,
            dossier["id"],
            type="supplement_received",
            status_after=await steps.supplement_arrived(conn, dossier["id"], now),
            occurred_at=now,
            actor_org_id=principal.organisation_id,
            data=data,
        )
    return json_response(event_view(row), status=201)
