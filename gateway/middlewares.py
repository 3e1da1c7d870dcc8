"""Request context with one canonical log line, and the single place errors become problem answers."""

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from gateway.errors import (
    ClientGone,
    GatewayError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
)
from gateway.http import client_stalled, problem_response
from gateway.keys import SERVICES
from gateway.store.db import UNAVAILABLE_ERRORS, unavailable

log = structlog.get_logger("gateway.request")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        return response
    finally:
        status = response.status if response is not None else 500
        if response is not None and not response.prepared:
            response.headers["X-Request-Id"] = request_id
        log.info(
            "request",
            method=request.method,
            path=request.path,  # never the query string
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            remote=request.remote,
        )


def _from_http_exception(exc: web.HTTPException) -> GatewayError:
    if exc.status == 404:
        return NotFound("Không có đường dẫn này trong API.", code="route.not_found")
    if exc.status == 405:
        return MethodNotAllowed(
            f"Phương thức {getattr(exc, 'method', exc.reason)} không được hỗ trợ ở đường dẫn này.",
            headers={"Allow": exc.headers.get("Allow", "")},
        )
    if exc.status == 413:
        return PayloadTooLarge("Dữ liệu gửi lên vượt quá giới hạn cho phép.")
    error = GatewayError(exc.text or exc.reason, code=f"http.{exc.status}", title=exc.reason)
    error.status = exc.status  # type: ignore[misc]  # carry the framework's status as is
    return error


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except GatewayError as error:
        return problem_response(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(_from_http_exception(exc))
    except UNAVAILABLE_ERRORS as exc:
        if request.transport is None or request.transport.is_closing():  # the client left, or was dropped
            log.info("request.client_gone", error=type(exc).__name__)
            return problem_response(ClientGone("Máy khách đã đóng kết nối."))
        log.warning("database.unavailable", exc_info=True)
        return problem_response(unavailable())
    except Exception:
        log.exception("request.failed")
        return problem_response(GatewayError("Đã có lỗi ngoài dự kiến; yêu cầu chưa được thực hiện."))


def body_limit(max_bytes: int) -> Callable:
    """Refuse a declared over-size body before reading it, then read the body (aiohttp's client_max_size
    refuses one that grows past the limit) within MOTCUA_CLIENT_TIMEOUT_SECONDS, so a client trickling it
    holds the request no longer: 408. Handlers then read it from memory. Uploads stream their own body."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if getattr(request.match_info.handler, "streams_body", False):  # uploads set their own limits
            return await handler(request)
        if request.content_length is not None and request.content_length > max_bytes:
            raise PayloadTooLarge(f"Dữ liệu gửi lên vượt quá giới hạn {max_bytes} byte.")
        if request.body_exists:
            seconds = request.app[SERVICES].settings.client_timeout_seconds
            try:
                async with asyncio.timeout(seconds):
                    await request.read()
            except TimeoutError as exc:
                raise client_stalled(seconds, "hết nội dung gửi lên") from exc
        return await handler(request)

    return middleware
