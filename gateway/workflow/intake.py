"""Intake: from a validated request to a committed dossier and its receipt (form 01).

`prepare` is pure (catalog, units, routing, dates); `commit` writes the dossier, its first event, the
outbox rows and the idempotent answer in ONE transaction, so a 201 always means committed.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import asyncpg
import structlog

from gateway.errors import Unprocessable
from gateway.keys import Services
from gateway.pages.links import TRACKING_PAGE, receipt_link
from gateway.schemas import IntakeRequest, OnlineFiling, Receipt, UnitRef
from gateway.security import hash_pin, new_pin, new_salt
from gateway.store import dossiers, outbox
from gateway.store import intake as intake_store
from gateway.store.clients import Principal
from gateway.store.documents import download_path
from gateway.workflow import documents, identity, online, steps
from gateway.workflow.identity import Verification
from gateway.workflow.lifecycle import STATUSES, TRANSITIONS
from mapping import Decision, IntakePoint, MappingError, Procedure, RoutingRequest, UnitInput, decide, resolve_unit
from mapping.calendar import VN_TZ

log = structlog.get_logger(__name__)


# What a verification outcome means for a dossier being accepted now. Mismatches never get this far.
DOSSIER_IDENTITY = {
    "verified": "verified",
    "partial": "partial_confirmed",  # only accepted when the officer confirmed the name
    "pending": "pending",
    "not_checked": "not_checked",
}


# The one channel each submitting role files through: a post office by post, a counter at its counter, the
# National Public Service Portal online (its pushes, POST /v1/portal/dossiers).
CHANNEL_OF_ROLE = {"postal": "postal", "counter": "counter", "portal": "online"}


class IdempotencyLost(Exception):
    """The idempotency claim was taken over while this request was still running."""


@dataclass(frozen=True)
class PreparedIntake:
    request: IntakeRequest
    decision: Decision
    received_at: datetime
    appointment_at: datetime

    @property
    def procedure(self) -> Procedure:
        return self.decision.procedure


def request_fingerprint(body: Any) -> bytes:
    """Hash of the body's canonical JSON: the same body in another key order is the same request."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).digest()


def _mapping_problem(error: MappingError, field: str | None = None) -> Unprocessable:
    item: dict[str, Any] = {"field": field or error.field or "(body)", "type": error.code, "message": error.message}
    if error.candidates:
        item["candidates"] = error.candidates
    return Unprocessable(error.message, code=error.code, errors=[item])


def _unit_input(unit: UnitRef) -> UnitInput:
    return UnitInput(unit.unit_code, unit.code_system, unit.new_commune_code)


def _intake_point(principal: Principal, request: IntakeRequest) -> IntakePoint:
    """Where the dossier was filed: the counter's own commune, the post office organisation's unit, or no unit
    for the online portal (not bound to any place)."""
    if request.channel.type == "online":
        return IntakePoint("online", None)
    code = request.channel.unit_code if request.channel.type == "counter" else principal.unit_code
    field = "channel.unit_code" if request.channel.type == "counter" else "channel"
    unit = resolve_unit(code, "2025", field=field) if code else None
    return IntakePoint(request.channel.type, unit)


def prepare(services: Services, principal: Principal, request: IntakeRequest, now: datetime) -> PreparedIntake:
    """`request` is a client's IntakeRequest, or the OnlineFiling of a portal push (channel `online`)."""
    channel = CHANNEL_OF_ROLE.get(principal.role)
    if request.channel.type != channel:
        raise Unprocessable(
            f"Tổ chức có vai trò '{principal.role}' chỉ được nộp hồ sơ qua kênh '{channel or principal.role}'.",
            code="channel.mismatch",
            errors=[{"field": "channel.type", "type": "channel.mismatch", "message": "Kênh nộp không đúng vai trò."}],
        )
    try:
        decision = decide(
            services.catalog,
            RoutingRequest(
                procedure_code=request.procedure_code,
                residence=_unit_input(request.applicant.residence),
                subject=_unit_input(request.subject_location) if request.subject_location else None,
                intake=_intake_point(principal, request),
                at=now,
            ),
        )
        if request.return_method.type == "postal":
            address = request.return_method.address
            resolve_unit(
                address.unit_code,
                address.code_system,
                new_commune_code=address.new_commune_code,
                field="return_method.address",
            )
    except MappingError as error:
        services.metrics.routing_errors.labels(error.code).inc()
        raise _mapping_problem(error) from error
    procedure = decision.procedure
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
    if request.channel.type == "postal":
        # The legal clock starts when the agency has the paper dossier; until then the date is an estimate.
        transit = timedelta(hours=services.settings.postal_transit_hours)
        appointment = services.calendar.postal_estimate(now, procedure.processing, procedure.same_day_cutoff, transit)
    else:
        appointment = services.calendar.appointment(now, procedure.processing, procedure.same_day_cutoff)
    return PreparedIntake(request, decision, now, appointment)


def build_receipt(
    prepared: PreparedIntake, code: str, pin: str, identity_status: str, receipt_url: str | None = None
) -> dict[str, Any]:
    request, procedure, agency = prepared.request, prepared.procedure, prepared.decision.agency
    due = [fee.model_dump() for fee in procedure.fees]
    total_due = sum(fee["amount"] for fee in due)
    collected = sum(fee.amount for fee in request.fees)
    # Files arrive after the intake: PUT to upload_urls, or fetched from the portal for an online dossier.
    missing = documents.missing(procedure, present=set())
    receipt = Receipt(
        code=code,
        status="received",
        status_label=STATUSES["received"].label,
        procedure={"code": procedure.code, "name": procedure.name},
        agency={"identifier": agency.identifier, "name": agency.name},
        channel=request.channel.type,
        received_at=prepared.received_at,
        appointment_at=prepared.appointment_at,
        appointment_estimated=request.channel.type == "postal",
        identity_status=identity_status,
        fees={
            "due": due,
            "collected": request.fees,
            "total_due": total_due,
            "outstanding": max(0, total_due - collected),
        },
        documents=request.documents,
        missing_components=missing,
        upload_urls={doc.sha256: download_path(code, doc.sha256) for doc in request.documents},
        forwarding="awaiting_documents" if missing else "queued",
        return_method=request.return_method,
        routing=prepared.decision.explain()
        | {
            "residence": prepared.decision.residence.as_dict(),
            "subject_location": prepared.decision.subject.as_dict() if prepared.decision.subject else None,
        },
        tracking_pin=pin,
        tracking_url=f"/v1/track/{code}",
        tracking_page=f"{TRACKING_PAGE}?ma={quote(code, safe='')}",
        receipt_url=receipt_url,
    )
    return receipt.model_dump(mode="json")


def _received_data(prepared: PreparedIntake) -> dict[str, Any]:
    """The first event's data: the channel and appointment, and for an online dossier the portal's reference."""
    data = {"channel": prepared.request.channel.type, "appointment_at": prepared.appointment_at.isoformat()}
    if isinstance(prepared.request, OnlineFiling):
        data["portal_reference"] = prepared.request.channel.portal_reference
    return data


async def commit(
    services: Services,
    conn: asyncpg.Connection,
    principal: Principal,
    prepared: PreparedIntake,
    idempotency_key: str,
    claim_locked_at: datetime,
    verification: Verification,
) -> dict[str, Any]:
    """Write everything in one transaction and return the receipt, PIN included (shown once)."""
    agency = prepared.decision.agency
    pin, salt = new_pin(), new_salt()
    identity_status = DOSSIER_IDENTITY[verification.status]
    audit, evidence = identity.for_new_dossier(services, verification)
    async with conn.transaction():
        code = await dossiers.allocate_code(conn, agency.identifier, prepared.received_at.astimezone(VN_TZ).date())
        link = receipt_link(services.receipt_links, code, pin)
        receipt = build_receipt(prepared, code, pin, identity_status, link)
        # The PIN (and the link sealing it) is handed out once; what is kept can be shown to the submitter.
        stored_receipt = {k: v for k, v in receipt.items() if k not in ("tracking_pin", "receipt_url")}
        request = prepared.request
        dossier_id, answered = await intake_store.insert(
            conn,
            services.personal,
            intake_store.NewDossier(
                dossier={
                    "code": code,
                    "procedure_code": prepared.procedure.code,
                    "agency_code": agency.identifier,
                    "submitter_org_id": principal.organisation_id,
                    "channel": request.channel.type,
                    "status": TRANSITIONS["received"].to,
                    "identity_status": identity_status,
                    "identity_evidence_id": verification.evidence_id,  # a cached verification's; else a fresh one's
                    "received_at": prepared.received_at,
                    "appointment_at": prepared.appointment_at,
                    "pin_salt": salt,
                    "pin_hash": hash_pin(services.server_secret, salt, pin),
                    "body": request.model_dump(mode="json"),
                    "applicant_lookup": services.personal.lookup("id_number", request.applicant.id_number),
                    "routing": receipt["routing"],
                    "receipt": stored_receipt,
                },
                event={
                    "type": "received",
                    "status_after": TRANSITIONS["received"].to,
                    "occurred_at": prepared.received_at,
                    "actor_org_id": principal.organisation_id,
                    "data": _received_data(prepared),
                },
                steps=[(step.order, step.agency.identifier, step.name) for step in prepared.decision.steps],
                audit=audit,
                evidence=evidence,
                # VNPost's number for the sealed dossier: our own pool must not hand it out within 12 months.
                item_number=request.channel.item_number if request.channel.type == "postal" else None,
                idempotency=(principal.organisation_id, idempotency_key, claim_locked_at),
                answer=services.sealer.seal(json.dumps(receipt, ensure_ascii=False).encode()),
            ),
        )
        if not answered:
            # Our claim expired and another request took the key over: roll back rather than duplicate.
            raise IdempotencyLost()
        deliver_at = None
        if identity_status == "pending":
            # Forwarding waits for the verification, up to a limit; the retry worker releases it earlier.
            deliver_at = prepared.received_at + timedelta(seconds=services.settings.identity_wait_limit_seconds)
            await outbox.enqueue(
                conn, outbox.IDENTITY_VERIFY, dossier_id=dossier_id, target=None, payload={"code": code}
            )
        if not receipt["missing_components"]:
            await steps.start_first(conn, dossier_id, prepared.received_at, deliver_at)
        if isinstance(request, OnlineFiling):
            # The portal holds the files: fetch each from its URL (or the portal PUTs them to upload_urls).
            await online.queue_fetches(conn, dossier_id, code, request.documents)
    log.info("dossier.received", code=code, agency=agency.identifier, procedure=prepared.procedure.code)
    return receipt
