"""`/tra-cuu`: the citizen types the dossier code and PIN of the receipt and sees where the dossier is.

A plain form posted to the server, so it works on any phone without JavaScript; the PIN travels in the
body, never in a URL. Wrong PINs count toward the same limits as the API's.
"""

from aiohttp import web

from gateway.api.tracking import pin_checked, result_document, send_result, tracking_view
from gateway.errors import BadRequest, NotFound, TooManyRequests, UnsupportedMediaType
from gateway.keys import SERVICES
from gateway.pages.links import TRACKING_PAGE
from gateway.pages.render import html_errors, page

routes = web.RouteTableDef()
MAX_FIELD = 64
FORM = "application/x-www-form-urlencoded"
MISSING = "Vui lòng nhập cả mã hồ sơ và mã tra cứu (PIN) ghi trên giấy tiếp nhận."


def _form_page(code: str = "", *, status: int = 200, error: str | None = None, headers=None) -> web.Response:
    return page("tra_cuu.html", status=status, headers=headers, code=code, error=error)


async def _form(request: web.Request) -> tuple[str, str, str]:
    """Code (as printed: upper case), PIN (spaces dropped) and the result's hash, if any. Only the encoding our
    form sends: the multipart parser is not needed, and a malformed multipart body must not reach it."""
    if request.content_type != FORM:
        raise UnsupportedMediaType(f"Biểu mẫu tra cứu phải được gửi dạng {FORM}.", code="form.media_type")
    form = await request.post()
    code = str(form.get("ma", "")).strip().upper()[:MAX_FIELD]
    pin = "".join(str(form.get("pin", "")).split())[:MAX_FIELD]
    return code, pin, str(form.get("sha256", ""))[:64]


@routes.get(TRACKING_PAGE)
async def tracking_form(request: web.Request) -> web.Response:
    """The form; `?ma=` (from the receipt's QR code) fills in the dossier code."""
    return _form_page(request.query.get("ma", "").strip()[:MAX_FIELD])


@routes.post(TRACKING_PAGE)
@html_errors
async def tracking_page(request: web.Request) -> web.Response:
    """The dossier's progress: status, appointment, steps, results, postal tracking and timeline."""
    services = request.app[SERVICES]
    code, pin, _ = await _form(request)
    if not code or not pin:
        return _form_page(code, status=400, error=MISSING)
    try:
        async with services.connection() as conn:
            dossier = await pin_checked(request, services, conn, code, pin)
            view = await tracking_view(services, conn, dossier)
    except (NotFound, TooManyRequests) as error:
        return _form_page(code, status=error.status, error=error.detail, headers=error.headers)
    return page("ho_so.html", view=view, pin=pin)


@routes.post(TRACKING_PAGE + "/ket-qua")
@html_errors
async def result_download(request: web.Request) -> web.StreamResponse:
    """An electronic result, downloaded from the page (code and PIN posted again with the file's hash)."""
    services = request.app[SERVICES]
    code, pin, sha256 = await _form(request)
    if not code or not pin:
        raise BadRequest(MISSING, code="tracking.pin_missing")
    async with services.connection() as conn:
        dossier = await pin_checked(request, services, conn, code, pin)
        row = await result_document(conn, dossier, sha256)
    return await send_result(request, services, dossier, row)
