"""The transactional outbox, and the agency inbox that pull-mode agencies read from it."""

import uuid
from typing import Any

import asyncpg

AGENCY_DELIVER = "agency.deliver"
DVCQG_SYNC = "dvcqg.sync_dossier"


async def enqueue(
    conn: asyncpg.Connection, kind: str, *, dossier_id: int | None, target: str | None, payload: dict[str, Any]
) -> uuid.UUID:
    """Add a message in the caller's transaction: it exists exactly when the change it announces does."""
    message_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO outbox (message_id, kind, dossier_id, target, payload) VALUES ($1, $2, $3, $4, $5)",
        message_id,
        kind,
        dossier_id,
        target,
        payload,
    )
    return message_id


async def inbox_page(conn: asyncpg.Connection, agency_code: str, after_id: int, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT o.id, o.message_id, o.created_at, o.payload, d.code AS dossier_code"
        " FROM outbox o JOIN dossiers d ON d.id = o.dossier_id"
        " WHERE o.kind = $1 AND o.status = 'pending' AND o.target = $2 AND o.id > $3"
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
