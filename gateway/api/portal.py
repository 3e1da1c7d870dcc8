"""The National Public Service Portal's push of the dossiers citizens file online (DESIGN.md §4 flow 8; the
contract: adapters/dvcqg/vendor/README.md). They take the same intake path as a counter's dossier
(gateway/api/intake.py `accept_dossier`) as channel `online`; their files are fetched from the portal
(gateway/workflow/online.py), or PUT by the portal to the receipt's upload_urls."""

from aiohttp import web

from gateway.api.intake import accept_dossier, idempotency_key
from gateway.errors import Unprocessable
from gateway.http import authenticate, read_json, validate
from gateway.keys import SERVICES
from gateway.metrics import IntakeAttempt
from gateway.schemas import OnlineIntakeRequest
from gateway.workflow import online

routes = web.RouteTableDef()


@routes.post("/v1/portal/dossiers")
async def receive_online_dossier(request: web.Request) -> web.Response:
    with request.app[SERVICES].metrics.intake_attempt() as attempt:
        attempt.channel = "online"  # the portal's route, whoever calls it
        return await _receive(request, attempt)


async def _receive(request: web.Request, attempt: IntakeAttempt) -> web.Response:
    principal = await authenticate(request, "portal")
    body = await read_json(request)
    key = idempotency_key(request)
    pushed = validate(OnlineIntakeRequest, body)
    if pushed.portal_reference != key:
        message = "portal_reference phải trùng với tiêu đề Idempotency-Key."
        raise Unprocessable(
            "Mã hồ sơ của Cổng DVCQG (portal_reference) khác với Idempotency-Key: cổng gửi mã hồ sơ của mình làm "
            "Idempotency-Key.",
            code="portal.reference_mismatch",
            errors=[{"field": "portal_reference", "type": "portal.reference_mismatch", "message": message}],
        )
    services = request.app[SERVICES]
    foreign = [
        {
            "field": f"documents.{i}.url",
            "type": "document.url_host",
            "message": "Máy chủ của địa chỉ tải tệp không nằm trong danh sách được phép (MOTCUA_DVCQG_FILE_HOSTS).",
        }
        for i, document in enumerate(pushed.documents)
        if not online.host_allowed(services.settings, document.url)
    ]
    if foreign:
        raise Unprocessable("Có tệp ở máy chủ không được phép tải về.", code="document.url_host", errors=foreign)
    return await accept_dossier(request, principal, body, key, pushed.filing(), attempt)
