"""The receipt and appointment slip (form 01, Circular 03/2025/TT-VPCP) as a printable page.

Postal staff and counters open the `receipt_url` of the intake answer and print it for the citizen: the
PIN is printed on it (sealed in the link), with a QR code to the tracking page carrying the code only.
"""

import asyncpg
import segno
from aiohttp import web
from markupsafe import Markup

from gateway.errors import NotFound
from gateway.keys import SERVICES, Services
from gateway.pages.links import RECEIPT_PAGE, opened_pin, tracking_link
from gateway.pages.render import html_errors, page
from gateway.store import dossiers
from gateway.workflow import documents as uploads
from mapping import MappingError, resolve_unit
from mapping.catalog import Procedure, ProcessingTime

routes = web.RouteTableDef()
UNITS = {"working_days": "ngày làm việc", "working_hours": "giờ làm việc", "calendar_days": "ngày"}


def processing_time(processing: ProcessingTime) -> str:
    amount = f"{processing.amount:g}".replace(".", ",")
    return f"{amount} {UNITS[processing.unit]}"


def address(unit_ref: dict) -> str:
    """The address line with the commune and province named (2025 units), as far as they still resolve."""
    try:
        unit = resolve_unit(
            unit_ref["unit_code"],
            unit_ref.get("code_system", "2025"),
            new_commune_code=unit_ref.get("new_commune_code"),
        )
    except MappingError:
        return unit_ref["address_line"]
    return f"{unit_ref['address_line']}, {unit.commune_name}, {unit.province_name}"


def documents_of(procedure: Procedure, declared: list[dict]) -> list[dict]:
    """The components received: the declared documents, or for a paper dossier the procedure's list."""
    names = {component.code: component.name for component in procedure.components}
    if declared:
        return [{"name": doc["name"], "component": names.get(doc["component_code"], "")} for doc in declared]
    return [{"name": component.name, "component": ""} for component in procedure.components]


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code (medium error correction survives a crumpled printout); no image request."""
    code = segno.make(text, error="m", micro=False)
    # A viewBox rather than a fixed size, so the style sheet sizes it for screen and paper.
    return Markup(code.svg_inline(border=4, omitsize=True, title="Mã QR tra cứu hồ sơ"))


def slip(services: Services, dossier: asyncpg.Record, pin: str, tracking_url: str) -> dict:
    receipt, body = dossier["receipt"], dossier["body"]
    procedure = uploads.procedure_of(services, dossier)
    returning = body["return_method"]
    return {
        "code": dossier["code"],
        "pin": pin,
        "agency": receipt["agency"]["name"],
        "procedure": receipt["procedure"]["name"],
        "applicant": body["applicant"]["full_name"],
        "address": address(body["applicant"]["residence"]),
        "phone": body["applicant"]["phone"],
        "documents": documents_of(procedure, body["documents"]),
        "processing": processing_time(procedure.processing),
        "received_at": dossier["received_at"],
        "appointment_at": dossier["appointment_at"],
        "appointment_estimated": receipt.get("appointment_estimated", False),
        "channel": body["channel"],
        "return_postal": returning["type"] == "postal",
        "return_to": f"{returning['recipient_name']}, {address(returning['address'])}"
        if returning["type"] == "postal"
        else None,
        "fees": receipt["fees"],
        "tracking_url": tracking_url,
        "qr": qr_svg(tracking_url),
    }


@routes.get(RECEIPT_PAGE)
@html_errors
async def receipt_page(request: web.Request) -> web.Response:
    """The printable form 01 of a dossier, for whoever holds the link from the intake answer."""
    services = request.app[SERVICES]
    code = request.match_info["code"][:64]
    pin = opened_pin(services.receipt_links, services.settings, code, request.query.get("t", "")[:1024])
    if pin is None:
        raise NotFound(
            "Liên kết giấy tiếp nhận không đúng hoặc đã hết hạn. Giấy tiếp nhận được in từ liên kết trong kết quả "
            "tiếp nhận hồ sơ.",
            code="receipt.link_invalid",
        )
    async with services.connection() as conn:
        dossier = await dossiers.get_by_code(conn, code)
    if dossier is None:  # a sealed link names a dossier that exists; this is a restore from an older backup
        raise NotFound("Không tìm thấy hồ sơ.", code="dossier.not_found")
    return page("bien_nhan.html", slip=slip(services, dossier, pin, tracking_link(request, services.settings, code)))
