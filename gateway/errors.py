"""One error hierarchy for the gateway, each error with a stable machine `code` and Vietnamese text.

    GatewayError                      (500 internal)
    ├── BadRequest                    400  e.g. body.malformed_json, idempotency.key_missing
    ├── Unauthorized                  401  auth.missing, auth.invalid
    ├── Forbidden                     403  auth.role
    ├── NotFound                      404  dossier.not_found, tracking.not_found, route.not_found
    ├── MethodNotAllowed              405  route.method_not_allowed
    ├── RequestTimeout                408  request.timeout
    ├── Conflict                      409  idempotency.in_flight, dossier.invalid_transition
    ├── Gone                          410  document.purged
    ├── PayloadTooLarge               413  body.too_large, document.too_large
    ├── UnsupportedMediaType          415  body.media_type, document.media_type_unsupported
    ├── RangeNotSatisfiable           416  document.range_not_satisfiable
    ├── Unprocessable                 422  validation.failed, idempotency.key_reused, procedure.unknown …
    ├── TooManyRequests               429  tracking.rate_limited
    ├── ClientGone                    499  client.gone (never sent: the client left)
    └── ServiceUnavailable            503  database.unavailable

The error middleware is the only place these become HTTP answers (RFC 9457 problem details);
lower layers raise them, or raise their own errors that are mapped at the boundary.
"""

from typing import Any, ClassVar

PROBLEM_TYPE_BASE = "urn:motcua:problem:"  # a URI that names the code without pretending to be a page


class GatewayError(Exception):
    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal"
    default_title: ClassVar[str] = "Lỗi hệ thống"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.title = title or self.default_title
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class BadRequest(GatewayError):
    status = 400
    default_code = "request.bad"
    default_title = "Yêu cầu không hợp lệ"


class Unauthorized(GatewayError):
    status = 401
    default_code = "auth.invalid"
    default_title = "Chưa xác thực"


class Forbidden(GatewayError):
    status = 403
    default_code = "auth.role"
    default_title = "Không có quyền"


class NotFound(GatewayError):
    status = 404
    default_code = "not_found"
    default_title = "Không tìm thấy"


class MethodNotAllowed(GatewayError):
    status = 405
    default_code = "route.method_not_allowed"
    default_title = "Phương thức không được hỗ trợ"


class RequestTimeout(GatewayError):
    """The client stopped sending its body; answered with the connection closed."""

    status = 408
    default_code = "request.timeout"
    default_title = "Hết thời gian chờ dữ liệu gửi lên"


class ClientGone(GatewayError):
    """The client closed the connection before its answer: nothing is sent, the log line says what happened
    (499, nginx's code for it)."""

    status = 499
    default_code = "client.gone"
    default_title = "Máy khách đã rời đi"


class Conflict(GatewayError):
    status = 409
    default_code = "conflict"
    default_title = "Xung đột trạng thái"


class Gone(GatewayError):
    status = 410
    default_code = "gone"
    default_title = "Không còn lưu trữ"


class PayloadTooLarge(GatewayError):
    status = 413
    default_code = "body.too_large"
    default_title = "Dữ liệu gửi lên quá lớn"


class UnsupportedMediaType(GatewayError):
    status = 415
    default_code = "body.media_type"
    default_title = "Kiểu dữ liệu không được hỗ trợ"


class RangeNotSatisfiable(GatewayError):
    status = 416
    default_code = "range.not_satisfiable"
    default_title = "Đoạn dữ liệu yêu cầu không hợp lệ"


class Unprocessable(GatewayError):
    status = 422
    default_code = "validation.failed"
    default_title = "Dữ liệu không hợp lệ"


class TooManyRequests(GatewayError):
    status = 429
    default_code = "rate_limited"
    default_title = "Quá nhiều yêu cầu"


class ServiceUnavailable(GatewayError):
    status = 503
    default_code = "service.unavailable"
    default_title = "Dịch vụ tạm thời không sẵn sàng"
