"""Operators: the COD reconciliation of mailed results for a period, as JSON or as CSV for a spreadsheet."""

import csv
import io
from datetime import date, datetime, time, timedelta

from aiohttp import web

from gateway.errors import BadRequest
from gateway.http import authenticate, json_response
from gateway.keys import SERVICES
from gateway.store import postal
from mapping.calendar import VN_TZ

routes = web.RouteTableDef()
MAX_DAYS = 366
COLUMNS = ("item_code", "dossier_code", "ordered_at", "postal_status", "cod_due", "cod_paid", "difference", "paid_at")


def _day(request: web.Request, field: str) -> date:
    try:
        return date.fromisoformat(request.query[field])
    except (KeyError, ValueError) as exc:
        raise BadRequest(
            f"{field} phải là một ngày dạng YYYY-MM-DD.",
            code="query.invalid",
            errors=[{"field": field, "type": "query.invalid", "message": "Ngày không hợp lệ."}],
        ) from exc


@routes.get("/v1/admin/postal/reconciliation")
async def reconciliation(request: web.Request) -> web.StreamResponse:
    """Orders placed from `from` to `to` (Vietnam dates, both included): COD due against COD paid events."""
    services = request.app[SERVICES]
    await authenticate(request, "admin")
    first, last = _day(request, "from"), _day(request, "to")
    if not timedelta(0) <= last - first < timedelta(days=MAX_DAYS):
        raise BadRequest(
            f"Khoảng thời gian phải từ 1 đến {MAX_DAYS} ngày và 'from' không sau 'to'.", code="query.invalid"
        )
    start = datetime.combine(first, time(), VN_TZ)
    end = datetime.combine(last + timedelta(days=1), time(), VN_TZ)
    async with services.connection() as conn:
        rows = await postal.reconciliation(conn, start, end)
    items = [
        {
            "item_code": row["item_code"],
            "dossier_code": row["order_number"],
            "ordered_at": row["ordered_at"],
            "postal_status": row["status"],
            "cod_due": row["cod_due"],
            "cod_paid": row["cod_paid"],
            "difference": row["cod_due"] - row["cod_paid"],
            "paid_at": row["paid_at"],
        }
        for row in rows
    ]
    totals = {
        "items": len(items),
        "cod_due": sum(item["cod_due"] for item in items),
        "cod_paid": sum(item["cod_paid"] for item in items),
        "outstanding": sum(max(item["difference"], 0) for item in items),
        "overpaid": sum(max(-item["difference"], 0) for item in items),
    }
    if request.query.get("format") == "csv":
        return _csv(items, first, last)
    return json_response({"from": first, "to": last, "totals": totals, "items": items})


def _csv(items: list[dict], first: date, last: date) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for item in items:
        writer.writerow(
            [
                value.astimezone(VN_TZ).isoformat() if isinstance(value, datetime) else ("" if value is None else value)
                for value in (item[column] for column in COLUMNS)
            ]
        )
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode(),  # the BOM makes spreadsheets read the Vietnamese text as UTF-8
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="doi-soat-cod-{first}-{last}.csv"'},
    )
