"""`/giam-sat`: the operators' monitoring page, for admins signed in (gateway/pages/operator.py).

On-time rate per agency and per province, the overdue dossiers, dead letters and how far the portal sync and the
agency deliveries lag, read from PostgreSQL on every request in one read-only snapshot. The page's own script
polls `/giam-sat/du-lieu` (the same figures as JSON) and copies them in without a reload; without JavaScript the
page is current when loaded and reloads itself every minute.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from gateway.errors import Unauthorized
from gateway.http import json_response
from gateway.keys import SERVICES, Services
from gateway.pages.monitor_view import (
    COLUMNS,
    DEAD_LIMIT,
    EMPTY,
    OVERDUE_LIMIT,
    SYNC_FAILED_LIMIT,
    WINDOWS,
    Readings,
    shape,
    window,
)
from gateway.pages.operator import LOGIN_PAGE, MONITOR_PAGE, current_operator, operator_errors, see_other
from gateway.pages.render import POLICY, page
from gateway.store import dossiers, monitoring, outbox

routes = web.RouteTableDef()
DATA = MONITOR_PAGE + "/du-lieu"
POLL_SECONDS = 5
NOSCRIPT_REFRESH_SECONDS = 60
# The citizen pages' policy, plus the one thing this page's script does: fetch its figures from this gateway.
MONITOR_POLICY = POLICY + "; connect-src 'self'"
JSON_HEADERS = {"Cache-Control": "no-store", "Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff"}


async def read_figures(services: Services, days: int) -> dict[str, Any]:
    """Everything the page shows, read in one repeatable-read snapshot so the figures agree with each other."""
    now = datetime.now(UTC)
    async with services.connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        sync_failed_total, sync_failed = await monitoring.failed_syncs(conn, SYNC_FAILED_LIMIT)
        readings = Readings(
            now=now,
            window_days=days,
            finished=await monitoring.finished_since(conn, now - timedelta(days=days)),
            overdue_groups=await monitoring.overdue_counts(conn, now),
            overdue_total=await dossiers.count_overdue(conn, now),
            overdue=await monitoring.overdue_list(conn, now, OVERDUE_LIMIT),
            backlog=await outbox.backlog(conn),
            dead=await outbox.list_messages(conn, status="dead", limit=DEAD_LIMIT),
            sync_failed_total=sync_failed_total,
            sync_failed=sync_failed,
        )
    return shape(readings, services.catalog)


@routes.get(MONITOR_PAGE)
@operator_errors
async def monitor_page(request: web.Request) -> web.Response:
    """The page, current when served; the sign-in form first without a session."""
    operator = await current_operator(request)
    if operator is None:
        return see_other(LOGIN_PAGE)
    days = window(request.query.get("ngay"))
    figures = await read_figures(request.app[SERVICES], days)
    return page(
        "giam_sat.html",
        headers={"Content-Security-Policy": MONITOR_POLICY},
        operator=operator,
        view=figures,
        shown=figures["display"],
        columns=COLUMNS,
        empty=EMPTY,
        windows=WINDOWS,
        data_url=f"{DATA}?ngay={days}",
        poll_seconds=POLL_SECONDS,
        refresh_seconds=NOSCRIPT_REFRESH_SECONDS,
    )


@routes.get(DATA)
async def monitor_data(request: web.Request) -> web.Response:
    """The same figures as JSON, for the page's script (and any operator's tool holding the session)."""
    if await current_operator(request) is None:
        raise Unauthorized(
            "Phiên đăng nhập trang giám sát đã hết hạn hoặc không hợp lệ; vui lòng đăng nhập lại.",
            code="operator.session",
        )
    figures = await read_figures(request.app[SERVICES], window(request.query.get("ngay")))
    return json_response(figures, headers=JSON_HEADERS)
