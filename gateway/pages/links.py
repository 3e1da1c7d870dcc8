"""Addresses printed for people: the tracking page for a dossier, and the printable receipt's link.

Only a hash of the PIN is stored, so the receipt link carries the code and PIN sealed (authenticated
encryption, its own key) and expires; the intake answer is the only place it is ever handed out.
"""

import json
from urllib.parse import quote

from aiohttp import web

from gateway.security import Sealer
from gateway.settings import Settings

TRACKING_PAGE = "/tra-cuu"
RECEIPT_PAGE = "/bien-nhan/{code}"
RECEIPT_LINK_PURPOSE = b"receipt-links"


def receipt_link(links: Sealer, code: str, pin: str) -> str:
    token = links.seal(json.dumps({"code": code, "pin": pin}).encode()).decode()
    return RECEIPT_PAGE.format(code=quote(code, safe="")) + f"?t={token}"


def opened_pin(links: Sealer, settings: Settings, code: str, token: str) -> str | None:
    """The PIN sealed in a receipt link for this code, or None if the link is forged, damaged or expired."""
    data = links.open(token.encode(), max_age_seconds=settings.receipt_link_hours * 3600)
    if data is None:
        return None
    sealed = json.loads(data)
    return sealed["pin"] if sealed.get("code") == code else None


def public_base(request: web.Request, settings: Settings) -> str:
    """The configured public address, or the one this request came to."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return f"{request.scheme}://{request.host}"


def tracking_link(request: web.Request, settings: Settings, code: str) -> str:
    """The tracking page with the code filled in; the citizen types the PIN (never in a URL or QR code)."""
    return f"{public_base(request, settings)}{TRACKING_PAGE}?ma={quote(code, safe='')}"
