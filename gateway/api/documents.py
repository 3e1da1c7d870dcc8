"""Documents of a dossier: the submitter uploads its components, a step's agency its results; the submitter
and the agencies at work on the dossier download them (range requests, every download recorded).

Uploads are `PUT <...>/{sha256}` with the raw file as the body: the URL names the content, so a retry is
harmless and answers the same. The body is streamed, never held whole; see gateway/workflow/documents.py.
"""

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import asyncpg
from aiohttp import web

from gateway.api.intake import dossier_not_found, may_see
from gateway.content import ALLOWED
from gateway.errors import Conflict, Forbidden, Gone, NotFound, PayloadTooLarge, RangeNotSatisfiable, Unprocessable
from gateway.http import authenticate, client_stalled, json_response
from gateway.keys import SERVICES, Services
from gateway.store import documents, dossiers
from gateway.store import steps as step_store
from gateway.store.clients import Principal
from gateway.workflow import documents as uploads
from gateway.workflow import steps
from mapping import Procedure

routes = web.RouteTableDef()
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
MAX_NAME = 300


def streams_body(handler):
    """Mark an upload handler: the general body limit does not apply, the document limits do."""
    handler.streams_body = True
    return handler


def _sha256(request: web.Request) -> str:
    sha256 = request.match_info["sha256"]
    if not _SHA256.match(sha256):
        raise NotFound(
            "Không tìm thấy giấy tờ: mã băm phải gồm 64 chữ số thập lục phân thường.", code="document.not_found"
        )
    return sha256


def _document_not_found() -> NotFound:
    return NotFound("Không tìm thấy giấy tờ này trong hồ sơ.", code="document.not_found")


def _check_declared_length(services: Services, request: web.Request) -> None:
    limit = services.settings.document_max_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"Tệp vượt quá giới hạn {limit} byte cho một giấy tờ.", code="document.too_large")


async def _body(request: web.Request, services: Services) -> AsyncIterator[bytes]:
    """The upload's body, UPLOAD_CHUNK bytes at a time, each of which must arrive within
    MOTCUA_CLIENT_TIMEOUT_SECONDS (408 past it: a floor of about 1 KiB/s at the default 60 s, so a client
    trickling bytes cannot hold an upload open for hours either)."""
    seconds = services.settings.client_timeout_seconds
    while True:
        try:
            async with asyncio.timeout(seconds):
                chunk = await request.content.readexactly(uploads.UPLOAD_CHUNK)
        except asyncio.IncompleteReadError as end:  # the body ended inside this chunk
            if end.partial:
                yield end.partial
            return
        except TimeoutError as exc:
            raise client_stalled(seconds, f"{uploads.UPLOAD_CHUNK >> 10} KiB tiếp theo của tệp") from exc
        yield chunk


def _header_media_type(request: web.Request) -> str | None:
    """The Content-Type the client sent, when it names one of the allowed types (checked against the bytes)."""
    return request.content_type if request.content_type in ALLOWED else None


def _query_field(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    if value is not None and not 1 <= len(value) <= MAX_NAME:
        raise Unprocessable(
            f"{name} phải dài từ 1 đến {MAX_NAME} ký tự.",
            errors=[{"field": name, "type": "query.invalid", "message": "Độ dài không hợp lệ."}],
        )
    return value


@routes.put("/v1/dossiers/{code}/documents/{sha256}")
@streams_body
async def upload_component(request: web.Request) -> web.Response:
    """The submitting post office, counter or portal (online dossiers) uploads the file of a component (declared
    at intake or not)."""
    services = request.app[SERVICES]
    principal = await authenticate(request, "postal", "counter", "portal")
    sha256 = _sha256(request)
    _check_declared_length(services, request)
    code = request.match_info["code"]
    async with services.connection() as conn:
        dossier = await dossiers.get_by_code(conn, code)
        if dossier is None or dossier["submitter_org_id"] != principal.organisation_id:
            raise dossier_not_found(code)
        declared = await uploads.declarations(conn, dossier, sha256)
    components, media_type = _components(request, declared, uploads.procedure_of(services, dossier))
    if dossier["status"] in documents.CLOSED:
        raise Conflict("Hồ sơ đã kết thúc; không nhận thêm giấy tờ.", code="document.dossier_closed")
    async with uploads.receive(services, _body(request, services), sha256, media_type) as upload:
        async with services.connection() as conn:
            rows, missing, new = await uploads.record_components(
                services, conn, dossier["id"], upload, components, uploaded_by=principal.organisation_id
            )
    return json_response(
        {
            "documents": [documents.view(row, documents.download_path(code, sha256)) for row in rows],
            "missing_components": missing,
            "forwarding": "awaiting_documents" if missing else "queued",
        },
        status=201 if new else 200,
    )


def _components(
    request: web.Request, declared: list[dict[str, Any]], procedure: Procedure
) -> tuple[list[tuple[str, str]], str | None]:
    """Which components this content is, (code, name) each, and the media type claimed for it: from the
    declarations (the query may narrow them to one, and must agree), else from the query."""
    component_code, name = _query_field(request, "component_code"), _query_field(request, "name")
    header_media = _header_media_type(request)
    if declared:
        chosen = [doc for doc in declared if component_code in (None, doc["component_code"])]
        chosen = [doc for doc in chosen if name in (None, doc["name"])]
        if not chosen:
            raise Unprocessable(
                "component_code hoặc name khác với khai báo của giấy tờ này khi tiếp nhận.",
                code="document.declaration_mismatch",
                errors=[
                    {"field": "component_code", "type": "document.declaration_mismatch", "message": "Khác khai báo."}
                ],
            )
        media_types = {doc["media_type"] for doc in chosen} | ({header_media} if header_media else set())
        if len(media_types) > 1:
            raise Unprocessable(
                f"Kiểu tệp khai báo không thống nhất: {', '.join(sorted(media_types))}.",
                code="document.media_type_mismatch",
                errors=[{"field": "media_type", "type": "document.media_type_mismatch", "message": "Không khớp."}],
            )
        return [(doc["component_code"], doc["name"]) for doc in chosen], media_types.pop()
    if component_code is None or name is None:
        raise Unprocessable(
            "Giấy tờ chưa được khai khi tiếp nhận: cần tham số component_code và name.",
            code="document.component_required",
            errors=[
                {"field": field, "type": "document.component_required", "message": "Bắt buộc."}
                for field, value in (("component_code", component_code), ("name", name))
                if value is None
            ],
        )
    if component_code not in {component.code for component in procedure.components}:
        raise Unprocessable(
            f"Thành phần hồ sơ '{component_code}' không thuộc thủ tục {procedure.code}.",
            code="document.unknown_component",
            errors=[{"field": "component_code", "type": "document.unknown_component", "message": "Không có."}],
        )
    return [(component_code, name)], header_media


@routes.put("/v1/agency/dossiers/{code}/results/{sha256}")
@streams_body
async def upload_result(request: web.Request) -> web.Response:
    """The agency of a step at work adds a result document; its `result_ready` event then lists them."""
    services = request.app[SERVICES]
    principal = await authenticate(request, "agency")
    sha256 = _sha256(request)
    _check_declared_length(services, request)
    name = _query_field(request, "name")
    if name is None:
        raise Unprocessable(
            "Cần tham số name: tên văn bản kết quả.",
            code="document.name_required",
            errors=[{"field": "name", "type": "document.name_required", "message": "Bắt buộc."}],
        )
    code = request.match_info["code"]
    async with services.connection() as conn:
        dossier = await dossiers.get_by_code(conn, code)
        step = await steps.acting_step(conn, dossier["id"], principal.agency_code or "") if dossier else None
    if step is None:
        raise dossier_not_found(code)
    async with uploads.receive(services, _body(request, services), sha256, _header_media_type(request)) as upload:
        async with services.connection() as conn:
            row = await uploads.record_result(
                conn, dossier["id"], step, upload, name=name, uploaded_by=principal.organisation_id
            )
    return json_response({"documents": [documents.view(row, documents.download_path(code, sha256))]}, status=201)


@routes.get("/v1/dossiers/{code}/documents")
async def list_documents(request: web.Request) -> web.Response:
    """Components and results with their hashes, whoever may see the dossier (operators included)."""
    services = request.app[SERVICES]
    principal = await authenticate(request, "postal", "counter", "agency", "admin")
    code = request.match_info["code"]
    async with services.connection() as conn:
        dossier = await dossiers.get_by_code(conn, code)
        if dossier is None or not await may_see(conn, principal, dossier):
            raise dossier_not_found(code)
        rows = await documents.list_for(conn, dossier["id"])
        present = {row["component_code"] for row in rows if row["kind"] == "component"}
    missing = uploads.missing(uploads.procedure_of(services, dossier), present)
    return json_response(
        {
            "items": [documents.view(row, documents.download_path(code, row["sha256"])) for row in rows],
            "missing_components": missing,
        }
    )


async def _may_download(conn: asyncpg.Connection, principal: Principal, dossier: asyncpg.Record) -> bool:
    """The submitter, and the agencies whose step has started; operators see the list but not the content."""
    if principal.role == "admin":
        raise Forbidden("Người vận hành không được tải nội dung giấy tờ của công dân.", code="document.forbidden")
    if principal.role == "agency":
        return await step_store.agency_has_started_step(conn, dossier["id"], principal.agency_code or "")
    return dossier["submitter_org_id"] == principal.organisation_id


@routes.get("/v1/dossiers/{code}/documents/{sha256}")
async def download(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    principal = await authenticate(request, "postal", "counter", "agency", "admin")
    code = request.match_info["code"]
    sha256 = _sha256(request)
    async with services.connection() as conn:
        dossier = await dossiers.get_by_code(conn, code)
        if dossier is None or not await _may_download(conn, principal, dossier):
            raise dossier_not_found(code)
        row = await documents.find(conn, dossier["id"], sha256)
    if row is None:
        raise _document_not_found()
    return await send(request, services, row, principal.organisation_id)


def byte_range(request: web.Request, size: int, etag: str) -> tuple[int, int] | None:
    """The single range asked for, as (first, last) byte inclusive; None for the whole content (no Range, an
    If-Range that no longer matches, several ranges or a syntax we do not serve: RFC 9110 allows the whole)."""
    header = request.headers.get("Range")
    if not header or request.headers.get("If-Range", etag) != etag:
        return None
    match = _RANGE.match(header.strip())
    if match is None or not (match[1] or match[2]):
        return None
    if match[1]:
        first = int(match[1])
        last = int(match[2]) if match[2] else size - 1
        if match[2] and last < first:
            return None  # invalid: the Range header is ignored
        if first >= size:
            raise _unsatisfiable(size)
        return first, min(last, size - 1)
    suffix = int(match[2])
    if suffix == 0:
        raise _unsatisfiable(size)
    return max(0, size - suffix), size - 1


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"Đoạn dữ liệu yêu cầu nằm ngoài tệp ({size} byte).",
        code="document.range_not_satisfiable",
        headers={"Content-Range": f"bytes */{size}"},
    )


async def send(
    request: web.Request, services: Services, row: asyncpg.Record, organisation_id: int | None
) -> web.StreamResponse:
    """Stream a document (or the asked range of it), after recording the download."""
    if row["purged_at"] is not None:
        raise Gone(
            "Tệp đã được xóa sau thời hạn lưu trữ; mã băm và thông tin của giấy tờ vẫn được giữ làm bằng chứng.",
            code="document.purged",
        )
    size, etag = row["size"], f'"{row["sha256"]}"'
    asked = byte_range(request, size, etag)
    first, last = asked or (0, size - 1)
    async with services.connection() as conn:
        await documents.record_download(conn, row["id"], organisation_id, first, last)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Cache-Control": "private, no-store",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row['name'])}",
    }
    if asked is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    response = web.StreamResponse(status=206 if asked else 200, headers=headers)
    response.content_type = row["media_type"]
    response.content_length = last - first + 1
    await response.prepare(request)
    async for chunk in services.content.read(row["sha256"], first, last - first + 1):
        await response.write(chunk)
    await response.write_eof()
    return response
