"""The OpenAPI 3.1 document, built from the pydantic models and checked against the router.

Every route the app serves must have an operation here, and every operation a route: `build_openapi`
refuses to build otherwise, so the document cannot drift from the code.
"""

from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway import __version__
from gateway.api.jwks import OPENAPI_OPERATION as JWKS_OPERATION
from gateway.schemas import (
    AckResult,
    AgencyEventRequest,
    DocumentList,
    DocumentUploaded,
    DossierSearchPage,
    DossierSearchRequest,
    DossierView,
    Event,
    EventList,
    Health,
    InboxPage,
    IntakeRequest,
    OnlineIntakeRequest,
    OutboxMessage,
    OutboxPage,
    Problem,
    Receipt,
    SupplementRequest,
    TrackingView,
    WithdrawRequest,
)
from gateway.store import outbox

OPENAPI = web.AppKey("openapi", dict)
_REF = "#/components/schemas/{model}"

_MODELS: list[type[BaseModel]] = [
    DocumentList,
    DocumentUploaded,
    IntakeRequest,
    OnlineIntakeRequest,
    Receipt,
    DossierView,
    EventList,
    Event,
    InboxPage,
    AckResult,
    AgencyEventRequest,
    WithdrawRequest,
    SupplementRequest,
    TrackingView,
    OutboxPage,
    OutboxMessage,
    DossierSearchRequest,
    DossierSearchPage,
    Problem,
    Health,
]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _problems(*statuses: int) -> dict[str, Any]:
    texts = {
        400: "Yêu cầu không hợp lệ",
        401: "Chưa xác thực",
        403: "Không có quyền",
        404: "Không tìm thấy",
        409: "Xung đột",
        410: "Không còn lưu trữ",
        413: "Dữ liệu quá lớn",
        415: "Sai kiểu dữ liệu",
        416: "Đoạn dữ liệu không hợp lệ",
        422: "Dữ liệu không hợp lệ",
        429: "Quá nhiều yêu cầu",
        503: "Tạm thời không sẵn sàng",
    }
    return {
        str(s): {"description": texts[s], "content": {"application/problem+json": {"schema": _ref(Problem)}}}
        for s in statuses
    }


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(model)}}}


_CODE = {
    "name": "code",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "Dossier code {agency}-{yyMMdd}-{NNNN}",
}
_SHA256 = {
    "name": "sha256",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "description": "The document's SHA-256 (lower-case hex): the content's name",
}
_PIN = {
    "name": "X-Tracking-Pin",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
    "description": "The 6-digit PIN printed on the receipt",
}
_RANGE = {
    "name": "Range",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "examples": ["bytes=0-1023"]},
    "description": "One byte range (RFC 9110); If-Range with the ETag is honoured",
}
_FILE_BODY = {
    "required": True,
    "description": "The raw file, streamed. PDF, JPEG or PNG, recognised by its bytes; its SHA-256 must be the "
    "one in the path; at most MOTCUA_DOCUMENT_MAX_BYTES",
    "content": {
        media_type: {"schema": {"type": "string", "contentMediaType": media_type}}
        for media_type in ("application/pdf", "image/jpeg", "image/png", "application/octet-stream")
    },
}
_FILE_ANSWER = {
    "description": "The file (206 for a range: Content-Range), with ETag = its SHA-256; the download is recorded",
    "content": {
        media_type: {"schema": {"type": "string", "contentMediaType": media_type}}
        for media_type in ("application/pdf", "image/jpeg", "image/png")
    },
}
_SECURED = [{"apiKey": []}]
_AUTH_ERRORS = (401, 403, 503)


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _html_errors(*statuses: int) -> dict[str, Any]:
    return {str(s): _html(f"The page again, or an error page, in Vietnamese (HTTP {s})") for s in statuses}


def _see_other(description: str) -> dict[str, Any]:
    return {"description": description, "headers": {"Location": {"schema": {"type": "string"}}}}


_WINDOW = {
    "name": "ngay",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["7", "30", "90"]},
    "description": "The window of the on-time figures, in days (default 30; other values: the default)",
}
_TRACKING_FORM = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["ma", "pin"],
                "properties": {
                    "ma": {"type": "string", "description": "Dossier code"},
                    "pin": {"type": "string", "description": "The PIN printed on the receipt"},
                    "sha256": {"type": "string", "description": "The result to download (/tra-cuu/ket-qua only)"},
                },
            }
        }
    },
}

OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/.well-known/jwks.json"): JWKS_OPERATION,
    ("GET", "/healthz"): {
        "operationId": "healthz",
        "summary": "Liveness",
        "tags": ["operations"],
        "security": [],
        "responses": {"200": _json(Health, "The process is alive")},
    },
    ("GET", "/readyz"): {
        "operationId": "readyz",
        "summary": "Readiness: database reachable, migrations applied",
        "tags": ["operations"],
        "security": [],
        "responses": {"200": _json(Health, "Ready"), **_problems(503)},
    },
    ("GET", "/metrics"): {
        "operationId": "metrics",
        "summary": "Counters and backlog gauges in the Prometheus text format, for the operators' Prometheus; "
        "answers while the database is down (motcua_database_up 0)",
        "tags": ["operations"],
        "security": [{"metricsToken": []}],
        "responses": {
            "200": {
                "description": "Prometheus text exposition format 0.0.4",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            **_problems(401),
        },
    },
    ("GET", "/openapi.json"): {
        "operationId": "openapi",
        "summary": "This document",
        "tags": ["operations"],
        "security": [],
        "responses": {
            "200": {
                "description": "OpenAPI 3.1 document",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    },
    ("POST", "/v1/dossiers"): {
        "operationId": "createDossier",
        "summary": "File a dossier (postal and counter clients)",
        "tags": ["intake"],
        "security": _SECURED,
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": "One key per dossier; a retry with the same key and body gets the original answer",
            }
        ],
        "requestBody": _body(IntakeRequest),
        "responses": {
            "201": _json(Receipt, "Committed; the receipt (form 01) with the tracking PIN"),
            **_problems(400, 409, 413, 415, 422, *_AUTH_ERRORS),
        },
    },
    ("POST", "/v1/portal/dossiers"): {
        "operationId": "receiveOnlineDossier",
        "summary": "The National Public Service Portal pushes a dossier filed online (portal clients only); its "
        "files are fetched from the documents' URLs, or PUT by the portal to upload_urls",
        "tags": ["intake"],
        "security": _SECURED,
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 64},
                "description": "The dossier's portal_reference (422 portal.reference_mismatch otherwise); a retry "
                "with the same key and body gets the original answer",
            }
        ],
        "requestBody": _body(OnlineIntakeRequest),
        "responses": {
            "201": _json(Receipt, "Committed as channel online; the receipt (form 01) with the tracking PIN"),
            **_problems(400, 409, 413, 415, 422, *_AUTH_ERRORS),
        },
    },
    ("GET", "/v1/dossiers/{code}"): {
        "operationId": "getDossier",
        "summary": "One dossier the caller may see",
        "tags": ["intake"],
        "security": _SECURED,
        "parameters": [_CODE],
        "responses": {"200": _json(DossierView, "The dossier"), **_problems(404, *_AUTH_ERRORS)},
    },
    ("GET", "/v1/dossiers/{code}/events"): {
        "operationId": "getDossierEvents",
        "summary": "A dossier's timeline",
        "tags": ["intake"],
        "security": _SECURED,
        "parameters": [_CODE],
        "responses": {"200": _json(EventList, "Events in order"), **_problems(404, *_AUTH_ERRORS)},
    },
    ("POST", "/v1/dossiers/{code}/withdraw"): {
        "operationId": "withdrawDossier",
        "summary": "The citizen withdraws the dossier (submitting organisation only, before the result is ready)",
        "tags": ["intake"],
        "security": _SECURED,
        "parameters": [_CODE],
        "requestBody": {**_body(WithdrawRequest), "required": False},
        "responses": {
            "201": _json(Event, "Recorded: the dossier is withdrawn"),
            **_problems(400, 404, 409, 413, 415, 422, *_AUTH_ERRORS),
        },
    },
    ("POST", "/v1/dossiers/{code}/supplements"): {
        "operationId": "supplementDossier",
        "summary": "The supplement the agency asked for (form 02); the clock runs again, the appointment moves",
        "tags": ["intake"],
        "security": _SECURED,
        "parameters": [_CODE],
        "requestBody": _body(SupplementRequest),
        "responses": {
            "201": _json(Event, "Recorded, with the old and new appointment"),
            **_problems(400, 404, 409, 413, 415, 422, *_AUTH_ERRORS),
        },
    },
    ("GET", "/v1/agency/inbox"): {
        "operationId": "agencyInbox",
        "summary": "Dossiers routed to the agency, not yet acknowledged",
        "tags": ["agency"],
        "security": _SECURED,
        "parameters": [
            {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
            },
        ],
        "responses": {"200": _json(InboxPage, "A page of messages"), **_problems(400, *_AUTH_ERRORS)},
    },
    ("POST", "/v1/agency/inbox/{message_id}/ack"): {
        "operationId": "agencyAck",
        "summary": "Acknowledge a message (idempotent)",
        "tags": ["agency"],
        "security": _SECURED,
        "parameters": [
            {"name": "message_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        ],
        "responses": {"200": _json(AckResult, "Acknowledged"), **_problems(404, *_AUTH_ERRORS)},
    },
    ("POST", "/v1/agency/dossiers/{code}/events"): {
        "operationId": "agencyEvent",
        "summary": "Report progress on a routed dossier",
        "tags": ["agency"],
        "security": _SECURED,
        "parameters": [_CODE],
        "requestBody": _body(AgencyEventRequest),
        "responses": {
            "201": _json(Event, "Recorded"),
            "200": _json(Event, "Already recorded (same event_id)"),
            **_problems(400, 404, 409, 413, 415, 422, *_AUTH_ERRORS),
        },
    },
    ("GET", "/v1/track/{code}"): {
        "operationId": "track",
        "summary": "Citizen tracking with the receipt PIN",
        "tags": ["citizen"],
        "security": [],
        "parameters": [
            _CODE,
            {
                "name": "X-Tracking-Pin",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "The 6-digit PIN printed on the receipt",
            },
        ],
        "responses": {"200": _json(TrackingView, "The dossier's progress"), **_problems(400, 404, 429, 503)},
    },
    ("GET", "/v1/track/{code}/documents/{sha256}"): {
        "operationId": "trackDownloadResult",
        "summary": "The citizen downloads an electronic result (procedures that allow one) with the PIN",
        "tags": ["citizen"],
        "security": [],
        "parameters": [_CODE, _SHA256, _PIN, _RANGE],
        "responses": {
            "200": _FILE_ANSWER,
            "206": _FILE_ANSWER,
            **_problems(400, 403, 404, 410, 416, 429, 503),
        },
    },
    ("GET", "/tra-cuu"): {
        "operationId": "trackingPageForm",
        "summary": "The citizen's tracking page (HTML form; ?ma= fills in the dossier code, as the receipt's QR does)",
        "tags": ["pages"],
        "security": [],
        "parameters": [{"name": "ma", "in": "query", "required": False, "schema": {"type": "string"}}],
        "responses": {"200": _html("The form")},
    },
    ("POST", "/tra-cuu"): {
        "operationId": "trackingPage",
        "summary": "The dossier's progress as a page, for the code and PIN posted by the form",
        "tags": ["pages"],
        "security": [],
        "requestBody": _TRACKING_FORM,
        "responses": {"200": _html("The dossier's progress"), **_html_errors(400, 404, 415, 429, 503)},
    },
    ("POST", "/tra-cuu/ket-qua"): {
        "operationId": "trackingPageDownload",
        "summary": "Download an electronic result from the tracking page (code, PIN and the file's hash posted)",
        "tags": ["pages"],
        "security": [],
        "requestBody": _TRACKING_FORM,
        "responses": {"200": _FILE_ANSWER, **_html_errors(400, 403, 404, 410, 415, 429, 503)},
    },
    ("GET", "/bien-nhan/{code}"): {
        "operationId": "receiptPage",
        "summary": "The printable receipt and appointment slip (form 01) with the PIN and a QR code to /tra-cuu",
        "tags": ["pages"],
        "security": [],
        "parameters": [
            _CODE,
            {
                "name": "t",
                "in": "query",
                "required": True,
                "schema": {"type": "string"},
                "description": "The sealed token of the intake answer's receipt_url",
            },
        ],
        "responses": {"200": _html("The receipt, A4 when printed"), **_html_errors(404, 503)},
    },
    ("GET", "/tai-nguyen/{name}"): {
        "operationId": "pageAsset",
        "summary": "The pages' style sheet and print script",
        "tags": ["pages"],
        "security": [],
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {
            "200": {
                "description": "The file",
                "content": {kind: {"schema": {"type": "string"}} for kind in ("text/css", "text/javascript")},
            },
            **_problems(404),
        },
    },
    ("GET", "/giam-sat"): {
        "operationId": "monitorPage",
        "summary": "The operators' monitoring page (admins signed in with the session cookie): on-time rates per "
        "agency and province, overdue dossiers, dead letters, sync lag; updates itself from /giam-sat/du-lieu",
        "tags": ["pages"],
        "security": [{"operatorSession": []}],
        "parameters": [_WINDOW],
        "responses": {
            "200": _html("The monitoring page"),
            "303": _see_other("No session (or it expired, or its key was revoked): the sign-in form"),
            **_html_errors(403, 503),
        },
    },
    ("GET", "/giam-sat/du-lieu"): {
        "operationId": "monitorFigures",
        "summary": "The monitoring page's figures as JSON (raw, and as displayed in Vietnamese), for its script",
        "tags": ["pages"],
        "security": [{"operatorSession": []}],
        "parameters": [_WINDOW],
        "responses": {
            "200": {
                "description": "The figures, read now",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            **_problems(401, 403, 503),
        },
    },
    ("GET", "/giam-sat/dang-nhap"): {
        "operationId": "monitorSignInForm",
        "summary": "The operators' sign-in form (an admin API key, posted, never in a URL)",
        "tags": ["pages"],
        "security": [],
        "responses": {
            "200": _html("The form"),
            "303": _see_other("Already signed in: the monitoring page"),
            **_html_errors(403, 503),
        },
    },
    ("POST", "/giam-sat/dang-nhap"): {
        "operationId": "monitorSignIn",
        "summary": "Sign in with an admin API key: a session cookie (HttpOnly, SameSite=Strict, Path=/giam-sat) "
        "for MOTCUA_OPERATOR_SESSION_HOURS; wrong keys count toward a per-address limit",
        "tags": ["pages"],
        "security": [],
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["khoa"],
                        "properties": {"khoa": {"type": "string", "description": "An admin organisation's API key"}},
                    }
                }
            },
        },
        "responses": {
            "303": _see_other("Signed in (Set-Cookie): the monitoring page"),
            **_html_errors(400, 401, 403, 415, 429, 503),
        },
    },
    ("POST", "/giam-sat/dang-xuat"): {
        "operationId": "monitorSignOut",
        "summary": "Sign out: the session cookie is cleared",
        "tags": ["pages"],
        "security": [],
        "responses": {"303": _see_other("The sign-in form")},
    },
    ("PUT", "/v1/dossiers/{code}/documents/{sha256}"): {
        "operationId": "uploadComponent",
        "summary": "The submitter uploads a component's file; once every required one is here the dossier is forwarded",
        "tags": ["documents"],
        "security": _SECURED,
        "parameters": [
            _CODE,
            _SHA256,
            {
                "name": "component_code",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "maxLength": 300},
                "description": "Needed when the intake did not declare this content; else it must agree",
            },
            {
                "name": "name",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "maxLength": 300},
                "description": "Needed when the intake did not declare this content; else it must agree",
            },
        ],
        "requestBody": _FILE_BODY,
        "responses": {
            "201": _json(DocumentUploaded, "Stored and recorded in the timeline"),
            "200": _json(DocumentUploaded, "The same file was already here: nothing new recorded"),
            **_problems(404, 409, 413, 415, 422, *_AUTH_ERRORS),
        },
    },
    ("GET", "/v1/dossiers/{code}/documents"): {
        "operationId": "listDocuments",
        "summary": "A dossier's components and results, with hashes and download paths",
        "tags": ["documents"],
        "security": _SECURED,
        "parameters": [_CODE],
        "responses": {"200": _json(DocumentList, "The documents"), **_problems(404, *_AUTH_ERRORS)},
    },
    ("GET", "/v1/dossiers/{code}/documents/{sha256}"): {
        "operationId": "downloadDocument",
        "summary": "Download a document: the submitter and the agencies whose step has started (not operators)",
        "tags": ["documents"],
        "security": _SECURED,
        "parameters": [_CODE, _SHA256, _RANGE],
        "responses": {
            "200": _FILE_ANSWER,
            "206": _FILE_ANSWER,
            **_problems(404, 410, 416, *_AUTH_ERRORS),
        },
    },
    ("PUT", "/v1/agency/dossiers/{code}/results/{sha256}"): {
        "operationId": "uploadResult",
        "summary": "A step's agency uploads a result document before reporting result_ready",
        "tags": ["documents"],
        "security": _SECURED,
        "parameters": [
            _CODE,
            _SHA256,
            {
                "name": "name",
                "in": "query",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 300},
                "description": "The result document's name, e.g. Phiếu lý lịch tư pháp số 1",
            },
        ],
        "requestBody": _FILE_BODY,
        "responses": {
            "201": _json(DocumentUploaded, "Stored and recorded in the timeline"),
            **_problems(404, 409, 413, 415, 422, *_AUTH_ERRORS),
        },
    },
    ("POST", "/v1/postal/callbacks"): {
        "operationId": "postalCallback",
        "summary": "VNPost item status callback (HMAC-SHA256 over `<timestamp>.<body>`, not an API key)",
        "tags": ["postal"],
        "security": [],
        "parameters": [
            {
                "name": "X-VNPost-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
            },
            {
                "name": "X-VNPost-Timestamp",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
                "description": "Unix seconds; outside MOTCUA_POSTAL_CALLBACK_FRESHNESS_SECONDS it is refused",
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["ItemCode", "Status", "TraceDate"],
                        "properties": {
                            "ItemCode": {"type": "string"},
                            "OrderNumber": {"type": "string"},
                            "Status": {"type": ["integer", "string"]},
                            "StatusName": {"type": "string"},
                            "TraceDate": {"type": "string", "description": "dd/MM/yyyy HH:mm:ss, Vietnam time"},
                            "PostOfficeName": {"type": "string"},
                            "Note": {"type": "string"},
                            "CODAmount": {"type": "integer"},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "Stored (or recognised as a duplicate); the item's status after it",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            **_problems(401, 404, 422, 503),
        },
    },
    ("GET", "/v1/admin/postal/reconciliation"): {
        "operationId": "postalReconciliation",
        "summary": "COD reconciliation of mailed results ordered in a period: due against paid (operators)",
        "tags": ["operations"],
        "security": _SECURED,
        "parameters": [
            {"name": "from", "in": "query", "required": True, "schema": {"type": "string", "format": "date"}},
            {"name": "to", "in": "query", "required": True, "schema": {"type": "string", "format": "date"}},
            {
                "name": "format",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": ["json", "csv"]},
                "description": "csv: one row per item, UTF-8 with a BOM, for a spreadsheet",
            },
        ],
        "responses": {
            "200": {
                "description": "Totals (items, cod_due, cod_paid, outstanding, overpaid) and one row per item",
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            },
            **_problems(400, *_AUTH_ERRORS),
        },
    },
    ("GET", "/v1/admin/outbox"): {
        "operationId": "adminOutbox",
        "summary": "Outbox messages, newest first (operators)",
        "tags": ["operations"],
        "security": _SECURED,
        "parameters": [
            {
                "name": "status",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": list(outbox.STATUSES)},
            },
            {"name": "kind", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 100}},
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
            },
        ],
        "responses": {"200": _json(OutboxPage, "Messages"), **_problems(400, *_AUTH_ERRORS)},
    },
    ("POST", "/v1/admin/dossiers/search"): {
        "operationId": "adminDossierSearch",
        "summary": "An applicant's dossiers, found by ID number (operators answering a citizen's call)",
        "tags": ["operations"],
        "security": _SECURED,
        "requestBody": _body(DossierSearchRequest),
        "responses": {
            "200": _json(DossierSearchPage, "The dossiers filed for this ID number"),
            **_problems(400, 413, 415, 422, *_AUTH_ERRORS),
        },
    },
    ("POST", "/v1/admin/outbox/{message_id}/replay"): {
        "operationId": "adminOutboxReplay",
        "summary": "Put a dead-lettered message back to pending, due now (operators)",
        "tags": ["operations"],
        "security": _SECURED,
        "parameters": [
            {"name": "message_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        ],
        "responses": {
            "200": _json(OutboxMessage, "Pending again"),
            **_problems(404, *_AUTH_ERRORS),
        },
    },
}


def _schemas() -> dict[str, Any]:
    _, top = models_json_schema([(m, "validation") for m in _MODELS], ref_template=_REF)
    return top.get("$defs", {})


def build_openapi(app: web.Application) -> dict[str, Any]:
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    documented = set(OPERATIONS)
    if served != documented:
        raise RuntimeError(f"OpenAPI out of step: undocumented {served - documented}, unserved {documented - served}")
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), operation in sorted(OPERATIONS.items()):
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "motcua-gateway",
            "version": __version__,
            "description": "Cổng tiếp nhận hồ sơ phi địa giới và bưu chính công ích cho cơ chế một cửa.",
            "license": {"name": "GPL-3.0-or-later", "identifier": "GPL-3.0-or-later"},
        },
        "servers": [{"url": "/"}],
        "security": _SECURED,
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "API key issued by `motcua clients add`"},
                "operatorSession": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "motcua_giam_sat",
                    "description": "The monitoring page's session, set by POST /giam-sat/dang-nhap with an admin key",
                },
                "metricsToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The MOTCUA_METRICS_TOKEN setting, presented by the operators' Prometheus",
                },
            },
        },
    }
