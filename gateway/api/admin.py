"""Operators (role admin): the outbox, replaying dead-lettered messages, and finding a citizen's dossiers."""

import re
import uuid

import structlog
from aiohttp import web

from gateway.errors import BadRequest, NotFound
from gateway.http import authenticate, json_response, read_json, validate
from gateway.keys import SERVICES
from gateway.schemas import DossierSearchRequest
from gateway.store import dossiers, outbox

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()
MAX_PAGE = 500


def _query_error(field: str, message: str) -> BadRequest:
    return BadRequest(
        message, code="query.invalid", errors=[{"field": field, "type": "query.invalid", "message": message}]
    )


def message_view(row) -> dict:
    return {
        "message_id": row["message_id"],
        "kind": row["kind"],
        "status": row["status"],
        "dossier_code": row["dossier_code"],
        "target": row["target"],
        "attempts": row["attempts"],
        "created_at": row["created_at"],
        "available_at": row["available_at"],
        "delivered_at": row["delivered_at"],
        "last_error": row["last_error"],
    }


@routes.get("/v1/admin/outbox")
async def list_outbox(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await authenticate(request, "admin")
    status = request.query.get("status") or None
    if status is not None and status not in outbox.STATUSES:
        raise _query_error("status", f"status phải là một trong: {', '.join(outbox.STATUSES)}.")
    kind = request.query.get("kind") or None
    if kind is not None and not re.fullmatch(r"[a-z_]{1,40}\.[a-z_]{1,40}", kind):
        raise _query_error("kind", "kind là tên một loại thông điệp, ví dụ agency.deliver hay dvcqg.sync_dossier.")
    raw = request.query.get("limit", "100")
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise _query_error("limit", f"limit phải là số nguyên từ 1 đến {MAX_PAGE}.")
    async with services.connection() as conn:
        rows = await outbox.list_messages(conn, status=status, kind=kind, limit=int(raw))
    return json_response({"items": [message_view(row) for row in rows]})


@routes.post("/v1/admin/outbox/{message_id}/replay")
async def replay_message(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await authenticate(request, "admin")
    not_found = NotFound("Không có thông điệp hỏng (dead) với mã này.", code="message.not_found")
    try:
        message_id = uuid.UUID(request.match_info["message_id"])
    except ValueError as exc:
        raise not_found from exc
    async with services.connection() as conn, conn.transaction():
        if not await outbox.replay(conn, message_id):
            raise not_found
        row = await outbox.get_message(conn, message_id)
    return json_response(message_view(row))


@routes.post("/v1/admin/dossiers/search")
async def search_dossiers(request: web.Request) -> web.Response:
    """Only the keyed hash of the number is compared: the numbers themselves are encrypted at rest."""
    services = request.app[SERVICES]
    await authenticate(request, "admin")
    body = validate(DossierSearchRequest, await read_json(request))
    async with services.connection() as conn:
        rows = await dossiers.find_by_applicant(conn, services.personal.lookup("id_number", body.id_number))
    log.info("admin.dossier_search", found=len(rows))  # who looked is bound to the log context; never the number
    fields = ("code", "procedure_code", "agency_code", "channel", "status", "received_at", "appointment_at")
    return json_response({"items": [{name: row[name] for name in fields} for row in rows]})
