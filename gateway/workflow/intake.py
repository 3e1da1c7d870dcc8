"""Intake: from a validated request to a committed dossier and its receipt (form 01).

`prepare` is pure (catalog, units, routing, dates); `commit` writes the dossier, its first event, the
outbox rows and the idempotent answer in ONE transaction, so a 201 always means committed.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from gateway.errors import Unprocessable
from gateway.keys import Services
from gateway.schemas import IntakeRequest, Receipt, UnitRef
from gateway.security import hash_pin, new_pin, new_salt
from gateway.store import dossiers, idempotency, outbox
from gateway.store.clients import Principal
from gateway.workflow.lifecycle import STATUSES, TRANSITIONS
from mapping import MappingError, Procedure, ResolvedUnit, Route, resolve_unit, route
from mapping.calendar import VN_TZ

log = structlog.get_logger(__name__)


class IdempotencyLost(Exception):
    """The idempotency claim was taken over while this request was still running."""


@dataclass(frozen=True)
class PreparedIntake:
    request: IntakeRequest
    procedure: Procedure
    route: Route
    residence: ResolvedUnit
    subject: ResolvedUnit | None
    received_at: datetime
    appointment_at: datetime


def request_fingerprint(body: Any) -> bytes:
    """Hash of the body's canonical JSON: the same body in another key order is the same request."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).digest()


def _mapping_problem(error: MappingError, field: str | None = None) -> Unprocessable:
    item: dict[str, Any] = {"field": field or error.field or "(body)", "type": error.code, "message": error.message}
    if error.candidates:
        item["candidates"] = error.candidates
    return Unprocessable(error.message, code=error.code, errors=[item])


def _resolve(unit: UnitRef, field: str) -> ResolvedUnit:
    try:
        return resolve_unit(unit.unit_code, unit.code_system, field=field)
    except MappingError as error:
        raise _mapping_problem(error, field) from error


def prepare(services: Services, principal: Principal, request: IntakeRequest, now: datetime) -> PreparedIntake:
    if request.channel.type != principal.role:
        raise Unprocessable(
            f"Tổ chức có vai trò '{principal.role}' chỉ được nộp hồ sơ qua kênh '{principal.role}'.",
            code="channel.mismatch",
            errors=[{"field": "channel.type", "type": "channel.mismatch", "message": "Kênh nộp không đúng vai trò."}],
        )
    try:
        procedure = services.catalog.procedure(request.procedure_code, now.astimezone(VN_TZ).date())
    except MappingError as error:
        raise _mapping_problem(error) from error
    if request.channel.type == "postal" and not procedure.postal_intake:
        raise Unprocessable(
            f"Thủ tục '{procedure.name}' không tiếp nhận hồ sơ qua dịch vụ bưu chính công ích.",
            code="procedure.not_postal",
            errors=[
                {"field": "procedure_code", "type": "procedure.not_postal", "message": "Không nhận qua bưu chính."}
            ],
        )
    if request.return_method.type == "postal" and not procedure.postal_return:
        raise Unprocessable(
            f"Kết quả thủ tục '{procedure.name}' không trả qua dịch vụ bưu chính.",
            code="procedure.no_postal_return",
            errors=[
                {
                    "field": "return_method.type",
                    "type": "procedure.no_postal_return",
                    "message": "Không trả kết quả qua bưu chính.",
                }
            ],
        )
    known = {component.code for component in procedure.components}
    unknown = [
        {
            "field": f"documents.{i}.component_code",
            "type": "document.unknown_component",
            "message": f"Thành phần hồ sơ '{doc.component_code}' không thuộc thủ tục {procedure.code}.",
        }
        for i, doc in enumerate(request.documents)
        if doc.component_code not in known
    ]
    if unknown:
        raise Unprocessable(
            "Có giấy tờ không thuộc thành phần hồ sơ của thủ tục.", code="document.unknown_component", errors=unknown
        )
    residence = _resolve(request.applicant.residence, "applicant.residence.unit_code")
    subject = _resolve(request.subject_location, "subject_location.unit_code") if request.subject_location else None
    if request.channel.type == "counter":
        _resolve(UnitRef(unit_code=request.channel.unit_code, address_line="-"), "channel.unit_code")
    if request.return_method.type == "postal":
        _resolve(request.return_method.address, "return_method.address.unit_code")
    try:
        chosen = route(services.catalog, procedure, residence, subject)
    except MappingError as error:
        raise _mapping_problem(error) from error
    appointment = services.calendar.appointment(now, procedure.processing)
    return PreparedIntake(request, procedure, chosen, residence, subject, now, appointment)


def _unit_out(given: UnitRef, unit: ResolvedUnit) -> dict[str, Any]:
    return {
        "given": given.model_dump(mode="json"),
        "commune_code": unit.commune_code,
        "commune_name": unit.commune_name,
        "province_code": unit.province_code,
        "province_name": unit.province_name,
    }


def build_receipt(prepared: PreparedIntake, code: str, pin: str) -> dict[str, Any]:
    request, procedure, agency = prepared.request, prepared.procedure, prepared.route.agency
    due = [fee.model_dump() for fee in procedure.fees]
    total_due = sum(fee["amount"] for fee in due)
    collected = sum(fee.amount for fee in request.fees)
    present = {doc.component_code for doc in request.documents}
    receipt = Receipt(
        code=code,
        status="received",
        status_label=STATUSES["received"].label,
        procedure={"code": procedure.code, "name": procedure.name},
        agency={"identifier": agency.identifier, "name": agency.name},
        channel=request.channel.type,
        received_at=prepared.received_at,
        appointment_at=prepared.appointment_at,
        fees={
            "due": due,
            "collected": request.fees,
            "total_due": total_due,
            "outstanding": max(0, total_due - collected),
        },
        documents=request.documents,
        missing_components=[
            {"code": c.code, "name": c.name} for c in procedure.components if c.required and c.code not in present
        ],
        return_method=request.return_method,
        routing={
            "basis": prepared.route.basis,
            "residence": _unit_out(request.applicant.residence, prepared.residence),
            "subject_location": _unit_out(request.subject_location, prepared.subject)
            if request.subject_location and prepared.subject
            else None,
        },
        tracking_pin=pin,
        tracking_url=f"/v1/track/{code}",
    )
    return receipt.model_dump(mode="json")


async def commit(
    services: Services,
    conn: asyncpg.Connection,
    principal: Principal,
    prepared: PreparedIntake,
    idempotency_key: str,
    claim_locked_at: datetime,
) -> dict[str, Any]:
    """Write everything in one transaction and return the receipt, PIN included (shown once)."""
    agency = prepared.route.agency
    pin, salt = new_pin(), new_salt()
    async with conn.transaction():
        code = await dossiers.allocate_code(conn, agency.identifier, prepared.received_at.astimezone(VN_TZ).date())
        receipt = build_receipt(prepared, code, pin)
        stored_receipt = {k: v for k, v in receipt.items() if k != "tracking_pin"}
        dossier_id = await dossiers.insert_dossier(
            conn,
            code=code,
            procedure_code=prepared.procedure.code,
            agency_code=agency.identifier,
            submitter_org_id=principal.organisation_id,
            channel=prepared.request.channel.type,
            status="received",
            received_at=prepared.received_at,
            appointment_at=prepared.appointment_at,
            pin_salt=salt,
            pin_hash=hash_pin(services.server_secret, salt, pin),
            body=prepared.request.model_dump(mode="json"),
            routing=receipt["routing"],
            receipt=stored_receipt,
        )
        await dossiers.append_event(
            conn,
            dossier_id,
            type="received",
            status_after=TRANSITIONS["received"].to,
            occurred_at=prepared.received_at,
            actor_org_id=principal.organisation_id,
            data={"channel": prepared.request.channel.type, "appointment_at": prepared.appointment_at.isoformat()},
        )
        await outbox.enqueue(
            conn,
            outbox.AGENCY_DELIVER,
            dossier_id=dossier_id,
            target=agency.identifier,
            payload=agency_payload(prepared, code),
        )
        await outbox.enqueue(conn, outbox.DVCQG_SYNC, dossier_id=dossier_id, target=None, payload={"code": code})
        body = json.dumps(receipt, ensure_ascii=False).encode()
        completed = await idempotency.complete(
            conn, principal.organisation_id, idempotency_key, claim_locked_at, 201, services.sealer.seal(body)
        )
        if not completed:
            # Our claim expired and another request took the key over: roll back rather than duplicate.
            raise IdempotencyLost()
    log.info("dossier.received", code=code, agency=agency.identifier, procedure=prepared.procedure.code)
    return receipt


def agency_payload(prepared: PreparedIntake, code: str) -> dict[str, Any]:
    """What the competent agency receives: the whole dossier as filed, plus where and when."""
    request = prepared.request
    return {
        "dossier_code": code,
        "procedure": {"code": prepared.procedure.code, "name": prepared.procedure.name},
        "received_at": prepared.received_at.isoformat(),
        "appointment_at": prepared.appointment_at.isoformat(),
        "applicant": request.applicant.model_dump(mode="json"),
        "subject_location": request.subject_location.model_dump(mode="json") if request.subject_location else None,
        "channel": request.channel.model_dump(mode="json"),
        "documents": [doc.model_dump(mode="json") for doc in request.documents],
        "return_method": request.return_method.model_dump(mode="json"),
        "fees_collected": [fee.model_dump(mode="json") for fee in request.fees],
    }
