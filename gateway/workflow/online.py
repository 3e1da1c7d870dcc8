"""Online dossiers from the National Public Service Portal (POST /v1/portal/dossiers): the portal holds the files
they declare, and the gateway fetches each one (outbox kind `dvcqg.fetch_document`, one message per declared
document, queued in the intake's own transaction).

`fetch_document` GETs the document's URL and streams the answer through the very checks an upload passes
(gateway/workflow/documents.py: the SHA-256 declared, the media type by content, the document and dossier size
limits, the declared size on top), then records it as a component of the dossier in one transaction; once every
required component is there the dossier goes on to its agency. The portal may also PUT a file to the dossier's
upload URL itself; whichever comes first records it, the other finds it there.

What the handler tells the worker:
- True: recorded, or nothing left to do (the file is already there; the dossier has ended).
- False: the portal gave no usable answer this time (connection error, timeout, 5xx, 408, 429): try again later.
- `DocumentFetchRefused` raised: the portal answered, but not with the file declared (404 or another final
  status, another hash or media type, too large, empty). Nothing is recorded and the dossier keeps waiting for
  that component. The worker keeps the reason in the message's `last_error` (operators:
  GET /v1/admin/outbox?kind=dvcqg.fetch_document, `motcua outbox`), retries with backoff, since the portal may
  correct the file or PUT it (which turns the next attempt into a no-op), and dead-letters it once the retry
  budget is spent, for an operator to replay or to take up with the portal.
"""

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import structlog

from gateway.errors import Conflict, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from gateway.keys import Services
from gateway.schemas import OnlineDocument
from gateway.settings import Settings
from gateway.store import documents, outbox
from gateway.workflow import documents as uploads

log = structlog.get_logger(__name__)

FETCH_TOTAL_SECONDS = 300.0  # the longest a single download may take, however steadily the bytes come
_RETRY_STATUSES = frozenset({408, 429})
_REFUSED_CHECKS = (PayloadTooLarge, Unprocessable, UnsupportedMediaType)  # what the upload checks raise


class DocumentFetchRefused(Exception):
    """The portal answered the fetch, but not with the file it declared; `code` is stable (document.*)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


async def queue_fetches(
    conn: asyncpg.Connection, dossier_id: int, code: str, declared: Iterable[OnlineDocument]
) -> None:
    """In the intake's transaction: one fetch per declared document. The target is the content's hash, so the
    worker fetches different files side by side and one content declared twice in order."""
    for document in declared:
        await outbox.enqueue(
            conn,
            outbox.DVCQG_FETCH_DOCUMENT,
            dossier_id=dossier_id,
            target=document.sha256,
            payload={
                "code": code,
                "sha256": document.sha256,
                "url": document.url,
                "component_code": document.component_code,
                "name": document.name,
                "media_type": document.media_type,
                "size": document.size,
            },
        )


def _payload(message: asyncpg.Record) -> dict[str, Any]:
    payload = message["payload"]
    return json.loads(payload) if isinstance(payload, str) else payload  # a connection without the jsonb codec


async def _at_most(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """The stream, refused as soon as it goes past `limit` bytes (the declared size: no more is ever read)."""
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"Tệp lớn hơn kích thước đã khai ({limit} byte).", code="document.too_large")
        yield chunk


def file_hosts(settings: Settings) -> set[str] | None:
    """Where the gateway fetches files from (the portal's own host unless configured); None: anywhere. Fetching
    only from known hosts keeps a URL in a pushed dossier from making the gateway call inside our network."""
    hosts = {host.lower() for host in settings.dvcqg_file_hosts}
    if not hosts and settings.dvcqg_url:
        hosts = {(urlsplit(settings.dvcqg_url).hostname or "").lower()}
    return hosts or None


def host_allowed(settings: Settings, url: str) -> bool:
    hosts = file_hosts(settings)
    return hosts is None or (urlsplit(url).hostname or "").lower() in hosts


async def fetch_document(services: Services, message: asyncpg.Record) -> bool:
    """Outbox handler for `dvcqg.fetch_document` (see the module's docstring for what it answers)."""
    payload = _payload(message)
    sha256, component_code = payload["sha256"], payload["component_code"]
    context = {"code": payload["code"], "sha256": sha256, "component_code": component_code}
    async with services.connection() as conn:
        dossier = await conn.fetchrow(
            "SELECT id, status, submitter_org_id FROM dossiers WHERE id = $1", message["dossier_id"]
        )
        linked = await documents.list_for(conn, message["dossier_id"], "component")
    if any((row["sha256"], row["component_code"]) == (sha256, component_code) for row in linked):
        return True  # fetched by an earlier attempt, or PUT by the portal
    if dossier["status"] in documents.CLOSED:
        log.info("online.fetch_skipped", status=dossier["status"], **context)
        return True
    try:
        if not host_allowed(services.settings, payload["url"]):
            raise DocumentFetchRefused("document.url_host", "Địa chỉ tải tệp không thuộc máy chủ được phép.")
        missing = await _fetch(services, dossier, payload)
    except DocumentFetchRefused as exc:
        log.warning("online.fetch_refused", error=exc.code, **context)  # the URL stays out: it may carry a token
        raise
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("online.fetch_unavailable", error=type(exc).__name__, **context)
        return False
    except Conflict as exc:
        if exc.code != "document.dossier_closed":
            raise
        log.info("online.fetch_skipped", status="closed", **context)
        return True
    if missing is None:
        return False
    log.info("online.document_fetched", missing=[item["code"] for item in missing], **context)
    return True


async def _fetch(services: Services, dossier: asyncpg.Record, payload: dict[str, Any]) -> list[dict[str, str]] | None:
    """GET the file and record it: the required components still missing; None when the portal answered with a
    status worth trying again. Raises DocumentFetchRefused, or the transport's errors."""
    limit = min(payload["size"], services.settings.document_max_bytes)
    wait = services.settings.delivery_timeout_seconds  # the longest silence from a partner, as for deliveries
    timeout = aiohttp.ClientTimeout(total=FETCH_TOTAL_SECONDS, sock_connect=wait, sock_read=wait)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": "motcua-gateway"}) as http,
            # No redirects: one could lead off the allowed hosts; a 3xx is refused like any other status.
            http.get(payload["url"], allow_redirects=False) as answer,
        ):
            if answer.status >= 500 or answer.status in _RETRY_STATUSES:
                log.warning("online.fetch_unavailable", status=answer.status, code=payload["code"])
                return None
            if answer.status != 200:
                raise DocumentFetchRefused(
                    "document.fetch_refused", f"Cổng DVCQG trả lời HTTP {answer.status} khi tải tệp."
                )
            if answer.content_length is not None and answer.content_length > limit:
                raise DocumentFetchRefused(
                    "document.too_large", f"Tệp dài {answer.content_length} byte, lớn hơn kích thước đã khai ({limit})."
                )
            chunks = _at_most(answer.content.iter_chunked(uploads.UPLOAD_CHUNK), limit)
            async with uploads.receive(services, chunks, payload["sha256"], payload["media_type"]) as upload:
                async with services.connection() as conn:
                    _, missing, _ = await uploads.record_components(
                        services,
                        conn,
                        dossier["id"],
                        upload,
                        [(payload["component_code"], payload["name"])],
                        uploaded_by=dossier["submitter_org_id"],
                    )
    except aiohttp.InvalidURL as exc:
        problem = f"Không theo được địa chỉ tải tệp ({type(exc).__name__})."  # not the URL: it may carry a token
        raise DocumentFetchRefused("document.fetch_refused", problem) from exc
    except _REFUSED_CHECKS as exc:
        raise DocumentFetchRefused(exc.code, exc.detail) from exc
    return missing
