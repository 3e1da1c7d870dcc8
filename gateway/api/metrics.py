"""GET /metrics: the Prometheus text format for the operators' Prometheus, which presents MOTCUA_METRICS_TOKEN
as a Bearer token (not an API key: the scrape must work while PostgreSQL is down; docs/decisions.md)."""

import asyncio
import hmac
from datetime import UTC, datetime

import structlog
from aiohttp import web

from gateway.http import bearer_token, invalid_credentials
from gateway.keys import SERVICES, Services
from gateway.metrics import CONTENT_TYPE, Backlog, BacklogRow
from gateway.store import dossiers, outbox
from gateway.store.db import UNAVAILABLE_ERRORS

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()
BACKLOG_WAIT_SECONDS = 3.0  # well inside Prometheus's default scrape timeout (10 s)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    _check_token(request, services)
    body = services.metrics.exposition(await read_backlog(services))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def _check_token(request: web.Request, services: Services) -> None:
    """401 unless the Bearer token is MOTCUA_METRICS_TOKEN (compared in constant time); unset, nothing is."""
    token = bearer_token(request)
    expected = services.settings.metrics_token
    if token is None or expected is None:
        raise invalid_credentials()
    if not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise invalid_credentials()


async def read_backlog(services: Services) -> Backlog | None:
    """The outbox backlog and the overdue count, in two queries on one connection; None when the database does
    not answer within BACKLOG_WAIT_SECONDS."""
    try:
        async with asyncio.timeout(BACKLOG_WAIT_SECONDS), services.connection() as conn:
            rows = await outbox.backlog(conn)
            overdue = await dossiers.count_overdue(conn, datetime.now(UTC))
    except UNAVAILABLE_ERRORS as exc:
        log.info("metrics.database_unavailable", error=type(exc).__name__)
        return None
    return Backlog(
        outbox=[BacklogRow(r["kind"], r["status"], r["messages"], r["oldest_seconds"]) for r in rows],
        overdue=overdue,
    )
