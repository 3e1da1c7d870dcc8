"""Operators sign in to the monitoring page (/giam-sat) in a browser with an admin API key.

The key is pasted into a form and posted (never in a URL, never logged); the browser then holds a session cookie
sealed with a key of its own purpose (organisation and key prefix, dated by the seal): HttpOnly, SameSite=Strict,
scoped to /giam-sat, Secure over https, for MOTCUA_OPERATOR_SESSION_HOURS. Every request checks again that the
key is not revoked and that its organisation is an admin, so revoking the key ends the session. Wrong keys count
toward the tracking limits' per-address allowance (their own subject, so a post office's wrong PINs never lock
an operator out, nor the reverse).
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from gateway.api.tracking import ADDRESS_ALLOWANCE_FACTOR
from gateway.errors import Forbidden, GatewayError, TooManyRequests, UnsupportedMediaType
from gateway.keys import SERVICES, Services
from gateway.pages.render import page
from gateway.security import Sealer
from gateway.store import clients, monitoring, tracking
from gateway.store.clients import Principal
from gateway.store.db import UNAVAILABLE_ERRORS, unavailable

routes = web.RouteTableDef()
MONITOR_PAGE = "/giam-sat"
LOGIN_PAGE = "/giam-sat/dang-nhap"
LOGOUT = "/giam-sat/dang-xuat"
SESSION_PURPOSE = b"operator-session"
COOKIE = "motcua_giam_sat"
FORM = "application/x-www-form-urlencoded"
MAX_KEY = 200  # keys are 60 characters; anything much longer is not one
MAX_TOKEN = 1024
WRONG_KEY = "Khóa truy cập không đúng hoặc đã bị thu hồi."


@dataclass(frozen=True)
class Operator:
    organisation_id: int
    name: str
    key_prefix: str


def _sealer(services: Services) -> Sealer:
    return Sealer(services.server_secret, SESSION_PURPOSE)


def _lifetime(services: Services) -> int:
    return services.settings.operator_session_hours * 3600


def _secure(request: web.Request, services: Services) -> bool:
    """Over https, as the request came or as the public address says (TLS ended at a proxy in front)."""
    public = services.settings.public_url or ""
    return request.secure or public.startswith("https://")


def not_admin(role: str) -> Forbidden:
    return Forbidden(
        f"Khóa này thuộc tổ chức có vai trò '{role}'. Chỉ khóa của tổ chức quản trị (vai trò admin) được xem "
        "trang giám sát.",
        code="auth.role",
    )


async def current_operator(request: web.Request) -> Operator | None:
    """The operator whose session cookie this request carries; None without one, or when it is forged, expired,
    or its key was revoked. Forbidden when the key's organisation is not an admin."""
    services = request.app[SERVICES]
    token = request.cookies.get(COOKIE, "")[:MAX_TOKEN]
    sealed = _sealer(services).open(token.encode(), max_age_seconds=_lifetime(services)) if token else None
    if sealed is None:
        return None
    session = json.loads(sealed)
    async with services.connection() as conn:
        row = await monitoring.operator_key(conn, session["org"], session["key"])
    if row is None:
        return None
    structlog.contextvars.bind_contextvars(org=row["id"], role=row["role"])
    if row["role"] != "admin":
        raise not_admin(row["role"])
    return Operator(row["id"], row["name"], session["key"])


def see_other(location: str) -> web.Response:
    # Returned, not raised: the request log then records the 303 it is (a raised one passes the log as an error).
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def operator_errors(handler: Handler) -> Handler:
    """Errors on an operator page are pages in Vietnamese (same status and code) that lead back to sign-in."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except GatewayError as error:
            return page("giam_sat_loi.html", status=error.status, headers=error.headers, error=error)
        except UNAVAILABLE_ERRORS:
            error = unavailable()
            return page("giam_sat_loi.html", status=error.status, headers=error.headers, error=error)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def _login_form(
    services: Services, *, status: int = 200, error: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    # The key typed is never written back into the form: it would land in the page's HTML.
    hours = services.settings.operator_session_hours
    return page("giam_sat_dang_nhap.html", status=status, headers=headers, error=error, hours=hours)


async def _checked_key(request: web.Request, services: Services, key: str) -> Principal | None:
    """The key's organisation, or None for a wrong or revoked key (counted against the client's address); 429
    once the address is over its allowance, whatever the key."""
    settings = services.settings
    subject = f"operator:addr:{request.remote}"
    limit = settings.tracking_max_failures * ADDRESS_ALLOWANCE_FACTOR
    async with services.connection() as conn, conn.transaction():
        await tracking.serialise(conn, subject)
        if await tracking.failures(conn, subject, settings.tracking_window_seconds) >= limit:
            raise TooManyRequests(
                "Đã nhập sai khóa quá nhiều lần; vui lòng thử lại sau.",
                code="operator.rate_limited",
                headers={"Retry-After": str(settings.tracking_window_seconds)},
            )
        principal = await clients.authenticate(conn, key)
        if principal is None:
            await tracking.record_failure(conn, subject, settings.tracking_window_seconds)
    return principal


@routes.get(LOGIN_PAGE)
@operator_errors
async def login_form(request: web.Request) -> web.StreamResponse:
    """The sign-in form; an operator already signed in goes on to the page."""
    if await current_operator(request) is not None:
        return see_other(MONITOR_PAGE)
    return _login_form(request.app[SERVICES])


@routes.post(LOGIN_PAGE)
@operator_errors
async def login(request: web.Request) -> web.StreamResponse:
    """Check the key posted; an admin's gets a session cookie and goes on to the page."""
    services = request.app[SERVICES]
    if request.content_type != FORM:
        raise UnsupportedMediaType(f"Biểu mẫu đăng nhập phải được gửi dạng {FORM}.", code="form.media_type")
    key = str((await request.post()).get("khoa", "")).strip()[:MAX_KEY]
    if not key:
        return _login_form(services, status=400, error="Vui lòng dán khóa truy cập.")
    try:
        principal = await _checked_key(request, services, key)
    except TooManyRequests as error:
        return _login_form(services, status=error.status, error=error.detail, headers=error.headers)
    if principal is None:
        return _login_form(services, status=401, error=WRONG_KEY)
    structlog.contextvars.bind_contextvars(org=principal.organisation_id, role=principal.role)
    if principal.role != "admin":
        return _login_form(services, status=403, error=not_admin(principal.role).detail)
    token = _sealer(services).seal(json.dumps({"org": principal.organisation_id, "key": principal.key_prefix}).encode())
    answer = see_other(MONITOR_PAGE)
    answer.set_cookie(
        COOKIE,
        token.decode(),
        max_age=_lifetime(services),
        path=MONITOR_PAGE,
        httponly=True,
        samesite="Strict",
        secure=_secure(request, services),
    )
    return answer


@routes.post(LOGOUT)
async def logout(request: web.Request) -> web.StreamResponse:
    """Forget the session cookie and go back to the sign-in form."""
    services = request.app[SERVICES]
    answer = see_other(LOGIN_PAGE)
    answer.del_cookie(COOKIE, path=MONITOR_PAGE, secure=_secure(request, services), samesite="Strict")
    return answer
