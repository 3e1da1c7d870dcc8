"""Rendering server-side pages: one Jinja environment, Vietnamese formats, strict security headers.

The pages work without JavaScript on any phone and fetch nothing from another host, so the content
security policy allows only this gateway's own style sheet and script.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import jinja2
from aiohttp import web

from gateway.errors import GatewayError
from gateway.store.db import UNAVAILABLE_ERRORS, unavailable
from mapping.calendar import VN_TZ

POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "Cache-Control": "no-store",  # pages may carry a PIN (hidden fields) or personal data (the receipt)
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def when(value: datetime | str | None) -> str:
    """'14:30 ngày 22/11/2026' in Vietnam time, as forms and receipts write it."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(VN_TZ)
    return f"{local:%H:%M} ngày {local:%d/%m/%Y}"


def vnd(amount: int | None) -> str:
    """1.500.000 đồng: Vietnamese digit grouping."""
    return f"{amount or 0:,}".replace(",", ".") + " đồng"


ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("gateway.pages", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,  # a missing value is a bug, not an empty spot on a receipt
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters["when"] = when
ENVIRONMENT.filters["vnd"] = vnd


def page(template: str, *, status: int = 200, headers: dict[str, str] | None = None, **context: Any) -> web.Response:
    body = ENVIRONMENT.get_template(template).render(**context)
    return web.Response(
        text=body, status=status, content_type="text/html", charset="utf-8", headers=HEADERS | (headers or {})
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_page(error: GatewayError) -> web.Response:
    return page("loi.html", status=error.status, headers=error.headers, error=error)


def html_errors(handler: Handler) -> Handler:
    """Errors on a page are pages too (in Vietnamese, same status and code), not problem+json."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except GatewayError as error:
            return error_page(error)
        except UNAVAILABLE_ERRORS:
            return error_page(unavailable())

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped
