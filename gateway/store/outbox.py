"""The transactional outbox, and the agency inbox that pull-mode agencies read from it."""

import uuid
from datetime import datetime
from typing import Any

import asyncpg

AGENCY_DELIVER = "agency.deliver"
DVCQG_SYNC = "dvcqg.sync_dossier"
DVCQG_FETCH_DOCUMENT = "dvcqg.fetch_document"  # an online dossier's file, fetched from the portal
IDENTITY_VERIFY = "identity.verify"
POSTAL_RESULT_ORDER = "postal.result_order"
KINDS = (AGENCY_DELIVER, DVCQG_SYNC, DVCQG_FETCH_DOCUMENT, IDENTITY_VERIFY, POSTAL_RESULT_ORDER)


async def enqueue(
    conn: asyncpg.Connection,
    kind: str,
    *,
    dossier_id: int | None,
    target: str | None,
    payload: dict[str, Any],
    available_at: datetime | None = None,
) -> uuid.UUID:
    """Add a message in the caller's transaction: it exists exactly when the change it announces does."""
    message_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO outbox (message_id, kind, dossier_id, target, payload, available_at)"
        " VALUES ($1, $2, $3, $4, $5, COALESCE($6, now()))",
        message_id,
        kind,
        dossier_id,
        target,
        payload,
        available_at,
    )
    return message_id


async def release_delivery(conn: asyncpg.Connection, dossier_id: int) -> None:
    """Make a dossier's waiting agency delivery available now (its identity check is over)."""
    await conn.execute(
        "UPDATE outbox SET available_at = now() WHERE dossier_id = $1 AND kind = $2 AND status = 'pending'"
        " AND available_at > now()",
        dossier_id,
        AGENCY_DELIVER,
    )


async def cancel_deliveries(conn: asyncpg.Connection, dossier_id: int) -> None:
    """The dossier ended before these deliveries reached their agencies: they are not sent any more."""
    await conn.execute(
        "UPDATE outbox SET status = 'cancelled', last_error = 'the dossier ended before delivery'"
        " WHERE dossier_id = $1 AND kind = $2 AND status IN ('pending', 'dead')",
        dossier_id,
        AGENCY_DELIVER,
    )


async def inbox_page(conn: asyncpg.Connection, agency_code: str, after_id: int, limit: int) -> list[asyncpg.Record]:
    """Pending deliveries that are due: one still waiting for its identity check is not shown yet."""
    return await conn.fetch(
        "SELECT o.id, o.message_id, o.created_at, o.payload, d.code AS dossier_code, d.identity_status"
        " FROM outbox o JOIN dossiers d ON d.id = o.dossier_id"
        " WHERE o.kind = $1 AND o.status = 'pending' AND o.target = $2 AND o.id > $3 AND o.available_at <= now()"
        " ORDER BY o.id LIMIT $4",
        AGENCY_DELIVER,
        agency_code,
        after_id,
        limit,
    )


async def get_inbox_message(conn: asyncpg.Connection, message_id: uuid.UUID, agency_code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT o.*, d.code AS dossier_code FROM outbox o JOIN dossiers d ON d.id = o.dossier_id"
        " WHERE o.message_id = $1 AND o.kind = $2 AND o.target = $3 FOR UPDATE OF o",
        message_id,
        AGENCY_DELIVER,
        agency_code,
    )


async def mark_delivered(conn: asyncpg.Connection, outbox_id: int, receipt: dict[str, Any]) -> asyncpg.Record:
    return await conn.fetchrow(
        "UPDATE outbox SET status = 'delivered', delivered_at = now(), receipt = $2 WHERE id = $1"
        " RETURNING delivered_at",
        outbox_id,
        receipt,
    )


STATUSES = ("pending", "delivered", "dead", "cancelled")
_LISTED = (
    "SELECT o.id, o.message_id, o.kind, o.status, o.target, o.attempts, o.available_at, o.created_at,"
    " o.delivered_at, o.last_error, d.code AS dossier_code"
    " FROM outbox o LEFT JOIN dossiers d ON d.id = o.dossier_id"
)


async def backlog(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Per kind: how many messages are pending and how many dead, and the age in seconds of the oldest pending
    one. Delivered and cancelled rows (the history, which only grows) are not read: each half of the query
    walks its own partial index (outbox_pending, outbox_dead)."""
    return await conn.fetch(
        "SELECT kind, 'pending' AS status, count(*) AS messages,"
        " extract(epoch FROM now() - min(created_at))::float8 AS oldest_seconds"
        " FROM outbox WHERE status = 'pending' GROUP BY kind"
        " UNION ALL"
        " SELECT kind, 'dead', count(*), NULL FROM outbox WHERE status = 'dead' GROUP BY kind"
    )


async def list_messages(
    conn: asyncpg.Connection, status: str | None = None, kind: str | None = None, limit: int = 100
) -> list[asyncpg.Record]:
    """Messages for operators, newest first (no payload: it may carry personal data)."""
    return await conn.fetch(
        f"{_LISTED} WHERE ($1::text IS NULL OR o.status = $1) AND ($2::text IS NULL OR o.kind = $2)"
        " ORDER BY o.id DESC LIMIT $3",
        status,
        kind,
        limit,
    )


async def get_message(conn: asyncpg.Connection, message_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_LISTED} WHERE o.message_id = $1", message_id)


async def replay(conn: asyncpg.Connection, message_id: uuid.UUID) -> bool:
    """A dead message back to pending, due now, with a fresh attempt count and a fresh retry budget; False if
    no such dead message. The last error is kept until the next attempt overwrites it."""
    replayed = await conn.fetchval(
        "UPDATE outbox SET status = 'pending', attempts = 0, available_at = now(), budget_from = now()"
        " WHERE message_id = $1 AND status = 'dead' RETURNING id",
        message_id,
    )
    return replayed is not None


async def replay_all_dead(conn: asyncpg.Connection, kind: str | None = None) -> int:
    """Every dead message (of one kind, if given) back to pending; how many."""
    rows = await conn.fetch(
        "UPDATE outbox SET status = 'pending', attempts = 0, available_at = now(), budget_from = now()"
        " WHERE status = 'dead' AND ($1::text IS NULL OR kind = $1) RETURNING id",
        kind,
    )
    return len(rows)
