"""Liveness, readiness and the OpenAPI document."""

import asyncio

from aiohttp import web

from gateway.errors import ServiceUnavailable
from gateway.http import json_response
from gateway.keys import SERVICES
from gateway.openapi import OPENAPI
from gateway.store.db import UNAVAILABLE_ERRORS
from gateway.store.migrate import pending_migrations

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    checks = {"database": "ok", "migrations": "ok"}
    try:
        async with asyncio.timeout(3), services.connection() as conn:
            pending = await pending_migrations(conn)
        if pending:
            checks["migrations"] = f"pending: {pending}"
    except UNAVAILABLE_ERRORS:
        checks = {"database": "unreachable", "migrations": "unknown"}
    if any(value != "ok" for value in checks.values()):
        raise ServiceUnavailable(
            "Cổng chưa sẵn sàng phục vụ.",
            code="service.not_ready",
            headers={"Retry-After": "5"},
            extra={"checks": checks},
        )
    return json_response({"status": "ready", "checks": checks})


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])
