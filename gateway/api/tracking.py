"""Citizen tracking with the dossier code and the receipt PIN; no personal data in the answer."""

import hmac

from aiohttp import web

from gateway.api.intake import event_view
from gateway.errors import BadRequest, NotFound, TooManyRequests
from gateway.http import json_response
from gateway.keys import SERVICES
from gateway.security import hash_pin
from gateway.store import dossiers, tracking
from gateway.store import steps as dossier_steps
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


@routes.get("/v1/track/{code}")
async def track(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    settings = services.settings
    code = request.match_info["code"][:64].replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
    pin = request.headers.get(PIN_HEADER)
    if not pin:
        raise BadRequest(
            f"Thiếu mã tra cứu: gửi kèm tiêu đề {PIN_HEADER} ghi trên giấy tiếp nhận.", code="tracking.pin_missing"
        )
    subjects = (f"code:{code}", f"addr:{request.remote}")
    limits = (settings.tracking_max_failures, settings.tracking_max_failures * ADDRESS_ALLOWANCE_FACTOR)
    async with services.connection() as conn, conn.transaction():
        await tracking.serialise(conn, subjects[0])
        for subject, limit in zip(subjects, limits, strict=True):
            if await tracking.failures(conn, subject, settings.tracking_window_seconds) >= limit:
                raise TooManyRequests(
                    "Đã nhập sai quá nhiều lần; vui lòng thử lại sau.",
                    code="tracking.rate_limited",
                    headers={"Retry-After": str(settings.tracking_window_seconds)},
                )
        dossier = await dossiers.get_by_code(conn, code)
        salt = dossier["pin_salt"] if dossier else _DUMMY_SALT
        expected = dossier["pin_hash"] if dossier else b""
        matches = hmac.compare_digest(hash_pin(services.server_secret, salt, pin), expected)
        found = dossier is not None and matches
        if not found:
            for subject in subjects:
                await tracking.record_failure(conn, subject, settings.tracking_window_seconds)
        events = await dossiers.list_events(conn, dossier["id"]) if found else []
        step_rows = await dossier_steps.list_for(conn, dossier["id"]) if found else []
    if not found:  # raised only now: the failure must be committed, not rolled back with the answer
        raise _not_found()
    status = STATUSES[dossier["status"]]
    receipt = dossier["receipt"]
    names = {s["agency"]["identifier"]: s["agency"]["name"] for s in receipt["routing"]["steps"]}
    return json_response(
        {
            "code": dossier["code"],
            "procedure": receipt["procedure"],
            "agency": receipt["agency"],
            "status": status.name,
            "status_label": status.label,
            "received_at": dossier["received_at"],
            "appointment_at": dossier["appointment_at"],
            "return_method": receipt["return_method"]["type"],
            "steps": [steps.view(step, public=True) | {"agency": names.get(step["agency_code"])} for step in step_rows],
            "timeline": [
                {
                    "label": view["label"],
                    "status_label": STATUSES[view["status_after"]].label,
                    "occurred_at": view["occurred_at"],
                }
                for view in map(event_view, events)
            ],
        }
    )
