"""Citizen tracking with the dossier code and the receipt PIN; no personal data in the answer."""

import hmac

import asyncpg
from aiohttp import web

from adapters.postal.status import LABELS, Unified
from gateway.api.documents import send
from gateway.api.intake import event_view
from gateway.errors import BadRequest, Forbidden, NotFound, TooManyRequests
from gateway.http import json_response
from gateway.keys import SERVICES, Services
from gateway.security import hash_pin
from gateway.store import documents, dossiers, tracking
from gateway.store import postal as postal_store
from gateway.store import steps as dossier_steps
from gateway.workflow import documents as uploads
from gateway.workflow import steps
from gateway.workflow.lifecycle import STATUSES

routes = web.RouteTableDef()
PIN_HEADER = "X-Tracking-Pin"
# Per client address the allowance is larger: one post office may look up many dossiers for citizens.
ADDRESS_ALLOWANCE_FACTOR = 10
_DUMMY_SALT = b"\x00" * 16


def _not_found() -> NotFound:
    # The same answer for an unknown code and a wrong PIN: a guesser learns nothing about which codes exist.
    return NotFound("Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu (PIN) đã nhập.", code="tracking.not_found")


async def _pin_checked(request: web.Request, services: Services, conn: asyncpg.Connection) -> asyncpg.Record:
    """The dossier named in the path, if the PIN in the header matches."""
    pin = request.headers.get(PIN_HEADER)
    if not pin:
        raise BadRequest(
            f"Thiếu mã tra cứu: gửi kèm tiêu đề {PIN_HEADER} ghi trên giấy tiếp nhận.", code="tracking.pin_missing"
        )
    return await pin_checked(request, services, conn, request.match_info["code"], pin)


async def pin_checked(
    request: web.Request, services: Services, conn: asyncpg.Connection, code: str, pin: str
) -> asyncpg.Record:
    """The dossier with this code, if the PIN matches; failures count toward limits per code and per
    client address, and a code over its limit answers 429 whatever the PIN. The API and the /tra-cuu page
    share it, so the page is no easier to guess through. The caller's connection is used for the whole look-up
    (one acquire per request)."""
    settings = services.settings
    code = code[:64].replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
    subjects = (f"code:{code}", f"addr:{request.remote}")
    limits = (settings.tracking_max_failures, settings.tracking_max_failures * ADDRESS_ALLOWANCE_FACTOR)
    async with conn.transaction():
        # Every attempt on a code waits its turn, then reads the counts as the previous one committed them: a
        # burst of guesses, right or wrong, gets no more answers than the limit.
        await tracking.serialise(conn, subjects[0])
        attempt = await tracking.attempt(conn, code, subjects, settings.tracking_window_seconds)
        for counted, limit in zip((attempt["code_failures"], attempt["address_failures"]), limits, strict=True):
            if counted >= limit:
                raise TooManyRequests(
                    "Đã nhập sai quá nhiều lần; vui lòng thử lại sau.",
                    code="tracking.rate_limited",
                    headers={"Retry-After": str(settings.tracking_window_seconds)},
                )
        dossier = attempt if attempt["id"] is not None else None
        salt = dossier["pin_salt"] if dossier else _DUMMY_SALT
        expected = dossier["pin_hash"] if dossier else b""
        matches = hmac.compare_digest(hash_pin(services.server_secret, salt, pin), expected)
        found = dossier is not None and matches
        if not found:
            for subject in subjects:
                await tracking.record_failure(conn, subject, settings.tracking_window_seconds)
    if not found:  # raised only now: the failure must be committed, not rolled back with the answer
        raise _not_found()
    return dossier


def _result_href(services: Services, dossier: asyncpg.Record, row: asyncpg.Record) -> str | None:
    """Results download with the PIN only where the procedure allows an electronic result."""
    if not uploads.procedure_of(services, dossier).electronic_result or row["purged_at"] is not None:
        return None
    return f"/v1/track/{dossier['code']}/documents/{row['sha256']}"


@routes.get("/v1/track/{code}")
async def track(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    async with services.connection() as conn:
        dossier = await _pin_checked(request, services, conn)
        view = await tracking_view(services, conn, dossier)
    return json_response(view)


async def tracking_view(services: Services, conn: asyncpg.Connection, dossier: asyncpg.Record) -> dict:
    """What the citizen may see of a dossier once the PIN matched: no personal data."""
    events = await dossiers.list_events(conn, dossier["id"])
    step_rows = await dossier_steps.list_for(conn, dossier["id"])
    results = await documents.list_for(conn, dossier["id"], "result")
    item = await postal_store.result_item(conn, dossier["id"])
    item_events = await postal_store.events_of(conn, item["item_code"]) if item else []
    status = STATUSES[dossier["status"]]
    receipt = dossier["receipt"]
    names = {s["agency"]["identifier"]: s["agency"]["name"] for s in receipt["routing"]["steps"]}
    return {
        "code": dossier["code"],
        "procedure": receipt["procedure"],
        "agency": receipt["agency"],
        "status": status.name,
        "status_label": status.label,
        "received_at": dossier["received_at"],
        "appointment_at": dossier["appointment_at"],
        "return_method": receipt["return_method"]["type"],
        "steps": [steps.view(step, public=True) | {"agency": names.get(step["agency_code"])} for step in step_rows],
        "results": [
            {
                "name": row["name"],
                "sha256": row["sha256"],
                "size": row["size"],
                "media_type": row["media_type"],
                "step": row["step_order"],
                "href": _result_href(services, dossier, row),
            }
            for row in results
        ],
        "postal": _postal_view(item, item_events),
        "timeline": [
            {
                "label": view["label"],
                "status_label": STATUSES[view["status_after"]].label,
                "occurred_at": view["occurred_at"],
            }
            for view in map(event_view, events)
        ],
    }


def _postal_view(item: asyncpg.Record | None, events: list[asyncpg.Record]) -> dict | None:
    """The mailed result as the citizen follows it: item number, where it is, each step."""
    if item is None:
        return None
    status = Unified(item["status"]) if item["status"] else None
    return {
        "item_code": item["item_code"],
        "status": status.value if status else "ordered",
        "status_label": LABELS[status] if status else "Đang đặt gửi qua bưu điện",
        "events": [
            {
                "status_label": LABELS[Unified(e["status"])],
                "occurred_at": e["occurred_at"],
                "post_office": e["post_office"],
            }
            for e in events
        ],
    }


@routes.get("/v1/track/{code}/documents/{sha256}")
async def download_result(request: web.Request) -> web.StreamResponse:
    """The citizen downloads an electronic result with the code and PIN of the receipt."""
    services = request.app[SERVICES]
    async with services.connection() as conn:
        dossier = await _pin_checked(request, services, conn)
        row = await result_document(conn, dossier, request.match_info["sha256"])
    return await send_result(request, services, dossier, row)


async def result_document(conn: asyncpg.Connection, dossier: asyncpg.Record, sha256: str) -> asyncpg.Record | None:
    return await documents.find(conn, dossier["id"], sha256, "result") if len(sha256) == 64 else None


async def send_result(
    request: web.Request, services: Services, dossier: asyncpg.Record, row: asyncpg.Record | None
) -> web.StreamResponse:
    """One result document of a PIN-checked dossier, where the procedure gives results as files; the file is
    streamed after the connection went back to the pool."""
    if row is None:
        raise NotFound("Không tìm thấy văn bản kết quả này của hồ sơ.", code="document.not_found")
    if not uploads.procedure_of(services, dossier).electronic_result:
        raise Forbidden(
            "Kết quả của thủ tục này không được trả bằng bản điện tử; vui lòng nhận bản giấy theo hình thức đã chọn.",
            code="document.no_electronic_result",
        )
    return await send(request, services, row, None)
