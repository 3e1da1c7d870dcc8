"""The steps of a dossier: which agency acts on it, in which order, and how far each has got."""

import uuid
from datetime import datetime
from typing import Any

import asyncpg

FINISHED = ("result_ready", "refused", "stopped", "cancelled")


async def insert(conn: asyncpg.Connection, dossier_id: int, order: int, agency_code: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO dossier_steps (dossier_id, step_order, agency_code, name, status)"
        " VALUES ($1, $2, $3, $4, 'waiting')",
        dossier_id,
        order,
        agency_code,
        name,
    )


async def list_for(conn: asyncpg.Connection, dossier_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM dossier_steps WHERE dossier_id = $1 ORDER BY step_order, agency_code", dossier_id
    )


async def get(conn: asyncpg.Connection, dossier_id: int, order: int, agency_code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM dossier_steps WHERE dossier_id = $1 AND step_order = $2 AND agency_code = $3",
        dossier_id,
        order,
        agency_code,
    )


async def mark_started(
    conn: asyncpg.Connection, dossier_id: int, order: int, agency_code: str, message_id: uuid.UUID, at: datetime
) -> None:
    await conn.execute(
        "UPDATE dossier_steps SET status = 'received', message_id = $4, started_at = $5"
        " WHERE dossier_id = $1 AND step_order = $2 AND agency_code = $3 AND status = 'waiting'",
        dossier_id,
        order,
        agency_code,
        message_id,
        at,
    )


async def set_status(
    conn: asyncpg.Connection,
    dossier_id: int,
    order: int,
    agency_code: str,
    status: str,
    *,
    at: datetime,
    result: dict[str, Any] | None = None,
) -> None:
    """Move one step; a finishing status also dates it, and `result_ready` keeps what the agency reported."""
    await conn.execute(
        "UPDATE dossier_steps SET status = $4,"
        " finished_at = CASE WHEN $4 = ANY($6::text[]) THEN $5 ELSE finished_at END,"
        " result = COALESCE($7, result)"
        " WHERE dossier_id = $1 AND step_order = $2 AND agency_code = $3",
        dossier_id,
        order,
        agency_code,
        status,
        at,
        list(FINISHED),
        result,
    )


async def cancel_unfinished(conn: asyncpg.Connection, dossier_id: int, at: datetime) -> None:
    """The dossier ended (withdrawn, refused or stopped at some step): no other step goes on with it."""
    await conn.execute(
        "UPDATE dossier_steps SET status = 'cancelled', finished_at = $2"
        " WHERE dossier_id = $1 AND status <> ALL($3::text[])",
        dossier_id,
        at,
        list(FINISHED),
    )


async def forward(conn: asyncpg.Connection, dossier_id: int, message_id: uuid.UUID) -> list[asyncpg.Record]:
    """The step the delivery `message_id` started moves from `received` to `forwarded` (if it is still there),
    and the dossier's steps are read as they are after it, in one statement; the moved one has `moved`."""
    return await conn.fetch(
        "WITH moved AS (UPDATE dossier_steps SET status = 'forwarded'"
        " WHERE dossier_id = $1 AND message_id = $2 AND status = 'received' RETURNING step_order, agency_code)"
        " SELECT s.dossier_id, s.step_order, s.agency_code, s.name,"
        " CASE WHEN m.step_order IS NULL THEN s.status ELSE 'forwarded' END AS status,"  # the CTE's snapshot is older
        " s.message_id, s.started_at, s.finished_at, s.result, m.step_order IS NOT NULL AS moved"
        " FROM dossier_steps s LEFT JOIN moved m USING (step_order, agency_code)"
        " WHERE s.dossier_id = $1 ORDER BY s.step_order, s.agency_code",
        dossier_id,
        message_id,
    )


async def agency_has_started_step(conn: asyncpg.Connection, dossier_id: int, agency_code: str) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM dossier_steps WHERE dossier_id = $1 AND agency_code = $2"
        " AND status <> 'waiting')",
        dossier_id,
        agency_code,
    )
