"""Push delivery of a dossier to its agency (outbox kind "agency.deliver"), run by the outbox worker.

Only agencies with an enabled row in agency_endpoints are pushed to; every other delivery stays pending
for the agency's pull inbox. The worker's claim query therefore ANDs in `push_condition("o")`, so that it
never takes (and reschedules) a pull delivery; `handle` raises `NotPushable` if it gets one anyway.

The request: POST <url>, body JSON {"message_id", "dossier_code", "identity_status", "dossier"}, headers
`Content-Type: application/json`, `X-Motcua-Message-Id: <uuid>` (stable across retries: the agency dedupes
on it) and `X-Motcua-Signature`: a compact JWS, EdDSA/Ed25519, with a DETACHED payload (RFC 7515 appendix F,
`header..signature`) whose payload is the exact body bytes; keys at /.well-known/jwks.json. What was signed
(the body's SHA-256, the kid, the token) is kept in the receipt as evidence.

A 2xx answer is the agency's receipt: it is stored on the outbox row, and the dossier gets its 'forwarded'
event if it is still 'received'. Anything else (non-2xx, timeout, connection error) returns False: the worker
retries with backoff. The worker marks the row delivered when this returns True.
"""

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import structlog

from gateway.delivery_keys import keys_for
from gateway.keys import Services
from gateway.store import endpoints, outbox
from gateway.workflow.forwarding import record_forwarded

log = structlog.get_logger(__name__)

MAX_RECEIPT_TEXT = 4000


def push_condition(alias: str = "outbox") -> str:
    """SQL to AND into the worker's claim query, `alias` being how it names the outbox table there (the
    current claim uses `outbox o`: push_condition("o")): a pull delivery is never claimed."""
    return (
        f"({alias}.kind <> '{outbox.AGENCY_DELIVER}' OR EXISTS (SELECT 1 FROM agency_endpoints e"
        f" WHERE e.agency_code = {alias}.target AND e.enabled))"
    )


PUSH_CONDITION = push_condition()  # for a claim query that does not alias the outbox table


class NotPushable(Exception):
    """The delivery's agency has no enabled endpoint: it reads its pull inbox; leave the row alone."""


_session: aiohttp.ClientSession | None = None
_session_loop: asyncio.AbstractEventLoop | None = None


def _client() -> aiohttp.ClientSession:
    """One HTTP client per process (per event loop), created on first use; `close()` on shutdown."""
    global _session, _session_loop
    loop = asyncio.get_running_loop()
    if _session is None or _session.closed or _session_loop is not loop:
        _session = aiohttp.ClientSession(headers={"User-Agent": "motcua-gateway"})
        _session_loop = loop
    return _session


async def close() -> None:
    global _session, _session_loop
    if _session is not None and not _session.closed and _session_loop is asyncio.get_running_loop():
        await _session.close()
    _session, _session_loop = None, None


def _timeout(services: Services) -> float:
    return services.settings.delivery_timeout_seconds


def request_body(message: asyncpg.Record, dossier_code: str, identity_status: str | None) -> bytes:
    payload = message["payload"]
    if isinstance(payload, str):  # a connection without the pool's jsonb codec
        payload = json.loads(payload)
    body = {
        "message_id": str(message["message_id"]),
        "dossier_code": dossier_code,
        "identity_status": identity_status,
        "dossier": payload,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _answer(text: str, content_type: str) -> Any:
    if "json" in content_type:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    return text[:MAX_RECEIPT_TEXT]


async def handle(services: Services, message: asyncpg.Record) -> bool:
    agency_code, message_id = message["target"], message["message_id"]
    async with services.connection() as conn:
        endpoint, dossier = await endpoints.endpoint_and_dossier(conn, agency_code or "", message["dossier_id"])
    if endpoint is None or not endpoint["enabled"]:
        raise NotPushable(f"agency {agency_code} has no enabled endpoint (pull delivery)")
    if dossier is None:
        log.error("deliver.no_dossier", message_id=str(message_id))
        return False
    body = request_body(message, dossier["code"], dossier["identity_status"])
    keys = keys_for(services)
    signature = keys.sign(body, detached=True)
    headers = {
        "Content-Type": "application/json",
        "X-Motcua-Message-Id": str(message_id),
        "X-Motcua-Signature": signature,
    }
    try:
        async with _client().post(
            endpoint["url"], data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=_timeout(services))
        ) as response:
            text = await response.text(errors="replace")
            status, content_type = response.status, response.headers.get("Content-Type", "")
    except (TimeoutError, aiohttp.ClientError) as exc:
        log.warning("deliver.failed", agency=agency_code, message_id=str(message_id), error=type(exc).__name__)
        return False
    if not 200 <= status < 300:
        log.warning("deliver.refused", agency=agency_code, message_id=str(message_id), status=status)
        return False
    now = datetime.now(UTC)
    receipt = {
        "mode": "push",
        "url": endpoint["url"],
        "status": status,
        "answered_at": now.isoformat(),
        "answer": _answer(text, content_type),
        "signed": {"kid": keys.kid, "body_sha256": hashlib.sha256(body).hexdigest(), "jws": signature},
    }
    await record_receipt(services, message, dossier["code"], receipt, now)
    log.info("deliver.pushed", agency=agency_code, message_id=str(message_id), code=dossier["code"])
    return True


async def record_receipt(
    services: Services, message: asyncpg.Record, dossier_code: str, receipt: dict[str, Any], at: datetime
) -> None:
    """The agency's receipt kept on the message and the dossier's `forwarded` event, in one transaction."""
    async with services.connection() as conn, conn.transaction():
        await conn.execute(
            "UPDATE outbox SET receipt = $2 WHERE id = $1 AND status = 'pending'", message["id"], receipt
        )
        await record_forwarded(
            conn, dossier_code, at=at, actor_org_id=None, mode="push", message_id=str(message["message_id"])
        )
