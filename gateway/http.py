"""Helpers every handler uses: JSON bodies in and out, authentication and roles."""

import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    RequestTimeout,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
)
from gateway.keys import SERVICES
from gateway.store import clients
from gateway.store.clients import Principal
from gateway.validation_messages import field_errors
from mapping.calendar import VN_TZ

PROBLEM_JSON = "application/problem+json"


def _default(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(VN_TZ).isoformat()  # users read Vietnam time; the instant is unchanged
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=_default)


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=dumps(data), status=status, content_type="application/json", headers=headers)


def problem_response(error: GatewayError) -> web.Response:
    response = web.Response(
        text=dumps(error.problem()), status=error.status, content_type=PROBLEM_JSON, headers=error.headers
    )
    if isinstance(error, RequestTimeout):
        response.force_close()  # the rest of that body is not worth waiting for on this connection
    return response


def client_stalled(seconds: float, what: str) -> RequestTimeout:
    """408 for a client that sends its body too slowly: `what` did not arrive within `seconds`."""
    return RequestTimeout(
        f"Không nhận được {what} trong {seconds:g} giây; kết nối bị đóng, yêu cầu chưa được thực hiện."
    )


async def read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise UnsupportedMediaType(
            "Nội dung gửi lên phải là JSON (Content-Type: application/json).",
            extra={"received": request.content_type},
        )
    raw = await request.read()  # read already, within its time, by the body_limit middleware
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(
            f"Nội dung gửi lên không phải JSON hợp lệ: {exc}.", code="body.malformed_json", title="JSON không hợp lệ"
        ) from exc
    except RecursionError as exc:
        raise BadRequest(
            "Nội dung gửi lên lồng nhau quá sâu.", code="body.malformed_json", title="JSON không hợp lệ"
        ) from exc


def validate[M: BaseModel](model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Unprocessable(
            "Dữ liệu gửi lên có trường không hợp lệ; xem danh sách lỗi theo từng trường.",
            errors=field_errors(exc),
        ) from exc


def bearer_token(request: web.Request) -> str | None:
    """The credential of `Authorization: Bearer <token>` (None: another scheme, or none given); 401 without
    the header."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthorized(
            "Thiếu khóa truy cập: gửi kèm tiêu đề Authorization: Bearer <khóa>.",
            code="auth.missing",
            headers={"WWW-Authenticate": "Bearer"},
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def invalid_credentials() -> Unauthorized:
    return Unauthorized(
        "Khóa truy cập không hợp lệ hoặc đã bị thu hồi.",
        code="auth.invalid",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def authenticate(request: web.Request, *roles: str) -> Principal:
    """The caller's organisation; 401 without a valid key, 403 when its role is not among `roles`."""
    key = bearer_token(request)
    services = request.app[SERVICES]
    principal = None
    if key is not None:
        async with services.connection() as conn:
            principal = await clients.authenticate(conn, key)
    if principal is None:
        raise invalid_credentials()
    structlog.contextvars.bind_contextvars(org=principal.organisation_id, role=principal.role)
    if roles and principal.role not in roles:
        raise Forbidden(
            f"Vai trò '{principal.role}' không được dùng chức năng này.",
            extra={"allowed_roles": list(roles)},
        )
    return principal
