"""Dossiers, their codes, and their hash-chained timeline."""

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from gateway.store.outbox import DVCQG_SYNC


async def allocate_code(conn: asyncpg.Connection, agency_code: str, day: date) -> str:
    """Next `{agency}-{yyMMdd}-{NNNN}` code; call inside the intake transaction (the row lock serialises)."""
    value = await conn.fetchval(
        "INSERT INTO dossier_sequences (agency_code, day, last_value) VALUES ($1, $2, 1)"
        " ON CONFLICT (agency_code, day) DO UPDATE SET last_value = dossier_sequences.last_value + 1"
        " RETURNING last_value",
        agency_code,
        day,
    )
    return f"{agency_code}-{day:%y%m%d}-{value:04d}"


async def insert_dossier(conn: asyncpg.Connection, **fields: Any) -> int:
    columns = ", ".join(fields)
    placeholders = ", ".join(f"${i}" for i in range(1, len(fields) + 1))
    return await conn.fetchval(
        f"INSERT INTO dossiers ({columns}) VALUES ({placeholders}) RETURNING id", *fields.values()
    )


async def get_by_code(conn: asyncpg.Connection, code: str, *, for_update: bool = False) -> asyncpg.Record | None:
    if "\x00" in code:  # PostgreSQL text cannot hold it, so no dossier has it
        return None
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM dossiers WHERE code = $1{lock}", code)


async def find_by_applicant(conn: asyncpg.Connection, lookup: bytes, limit: int = 100) -> list[asyncpg.Record]:
    """Dossiers whose applicant's ID number has this keyed hash (gateway/personal.py), newest first."""
    return await conn.fetch(
        "SELECT code, procedure_code, agency_code, channel, status, received_at, appointment_at FROM dossiers"
        " WHERE applicant_lookup = $1 ORDER BY received_at DESC, id DESC LIMIT $2",
        lookup,
        limit,
    )


def event_hash(
    prev_hash: bytes | None,
    *,
    seq: int,
    type: str,
    status_after: str,
    occurred_at: datetime,
    actor_org_id: int | None,
    external_id: str | None,
    data: dict[str, Any],
) -> bytes:
    """sha256(prev_hash || canonical event). Canonical: sorted keys, no spaces, the time in UTC, so that what
    is read back from the database hashes exactly as what was written."""
    event = {
        "seq": seq,
        "type": type,
        "status_after": status_after,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
        "actor": actor_org_id,
        "external_id": external_id,
        "data": data,
    }
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash or b"") + canonical.encode()).digest()


async def append_event(
    conn: asyncpg.Connection,
    dossier_id: int,
    *,
    type: str,
    status_after: str,
    occurred_at: datetime,
    actor_org_id: int | None,
    data: dict[str, Any] | None = None,
    external_id: str | None = None,
) -> asyncpg.Record:
    """Append one event and move the dossier's status; the caller holds the dossier row lock."""
    last = await conn.fetchrow(
        "SELECT seq, hash FROM dossier_events WHERE dossier_id = $1 ORDER BY seq DESC LIMIT 1", dossier_id
    )
    seq = last["seq"] + 1 if last else 1
    prev_hash = last["hash"] if last else None
    data = data or {}
    digest = event_hash(
        prev_hash,
        seq=seq,
        type=type,
        status_after=status_after,
        occurred_at=occurred_at,
        actor_org_id=actor_org_id,
        external_id=external_id,
        data=data,
    )
    return await conn.fetchrow(
        _APPEND,
        dossier_id,
        seq,
        type,
        status_after,
        occurred_at,
        actor_org_id,
        external_id,
        data,
        prev_hash,
        digest,
        DVCQG_SYNC,
    )


def _queue_sync(dossier: str, kind: str) -> str:
    """CTEs queueing a portal sync of dossier `dossier` (a placeholder) unless one no worker has claimed yet is
    waiting: `waiting` locks that one, `queued` inserts a new message otherwise (see `queue_portal_sync`)."""
    return (
        f" waiting AS (SELECT id FROM outbox WHERE dossier_id = {dossier} AND kind = {kind} AND status = 'pending'"
        " AND attempts = 0 LIMIT 1 FOR UPDATE),"
        f" queued AS (INSERT INTO outbox (message_id, kind, dossier_id, payload)"
        f" SELECT gen_random_uuid(), {kind}, {dossier}, '{{}}' WHERE NOT EXISTS (SELECT FROM waiting))"
    )


# The event, the dossier's new status and its portal-sync message in one statement: each round trip costs more
# than the row it carries. PostgreSQL runs every data-modifying CTE to completion.
_APPEND = (
    "WITH event AS (INSERT INTO dossier_events (dossier_id, seq, type, status_after, occurred_at, actor_org_id,"
    " external_id, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10) RETURNING *),"
    " moved AS (UPDATE dossiers SET status = $4, updated_at = now() WHERE id = $1),"
    f"{_queue_sync('$1', '$11')}"
    " SELECT * FROM event"
)


async def queue_portal_sync(conn: asyncpg.Connection, dossier_id: int) -> None:
    """Every event reaches the National Public Service Portal: queue a sync of the dossier, unless one that no
    worker has claimed yet is waiting (it will read this event too: the handler reads from its cursor). The
    waiting message is locked until this transaction ends, so no worker claims it and reads the timeline before
    this event is committed; one claimed meanwhile no longer matches, and a new message is queued."""
    await conn.execute(f"WITH{_queue_sync('$1', '$2')} SELECT 1", dossier_id, DVCQG_SYNC)


async def has_event(conn: asyncpg.Connection, dossier_id: int, type: str) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM dossier_events WHERE dossier_id = $1 AND type = $2)", dossier_id, type
    )


async def set_appointment(conn: asyncpg.Connection, dossier_id: int, appointment_at: datetime) -> None:
    await conn.execute(
        "UPDATE dossiers SET appointment_at = $2, updated_at = now() WHERE id = $1", dossier_id, appointment_at
    )


async def find_event_by_external_id(
    conn: asyncpg.Connection, dossier_id: int, external_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM dossier_events WHERE dossier_id = $1 AND external_id = $2", dossier_id, external_id
    )


async def list_events(conn: asyncpg.Connection, dossier_id: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM dossier_events WHERE dossier_id = $1 ORDER BY seq", dossier_id)


async def stop_clock(conn: asyncpg.Connection, dossier_id: int, stopped_at: datetime) -> None:
    await conn.execute(
        "UPDATE dossiers SET clock_stopped_at = $2, updated_at = now() WHERE id = $1", dossier_id, stopped_at
    )


async def resume_clock(conn: asyncpg.Connection, dossier_id: int, appointment_at: datetime) -> None:
    await conn.execute(
        "UPDATE dossiers SET clock_stopped_at = NULL, appointment_at = $2, updated_at = now() WHERE id = $1",
        dossier_id,
        appointment_at,
    )


async def overdue_for_appointment(conn: asyncpg.Connection, dossier_id: int, appointment_at: datetime) -> bool:
    """Whether an `overdue` event was raised for this appointment (the one the dossier has now)."""
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM dossier_events WHERE dossier_id = $1 AND type = 'overdue'"
        " AND (data->>'appointment_at')::timestamptz >= $2)",
        dossier_id,
        appointment_at,
    )


# Unfinished, clock running: the dossiers whose appointment can pass (the index dossiers_open_appointment).
# Shared with the monitoring page (gateway/store/monitoring.py), so both count the same overdue dossiers.
CLOCK_RUNNING = (
    "d.status NOT IN ('result_ready', 'returned', 'withdrawn', 'stopped', 'refused') AND d.clock_stopped_at IS NULL"
)


async def lock_overdue(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    """Unfinished dossiers, clock running, past their appointment, with no `overdue` event for it; locked
    (rows another scanner holds are skipped). Call inside a transaction."""
    return await conn.fetch(
        f"SELECT d.* FROM dossiers d WHERE {CLOCK_RUNNING}"
        " AND d.appointment_at < $1 AND NOT EXISTS (SELECT 1 FROM dossier_events e WHERE e.dossier_id = d.id"
        " AND e.type = 'overdue' AND (e.data->>'appointment_at')::timestamptz >= d.appointment_at)"
        " ORDER BY d.appointment_at, d.id FOR UPDATE OF d SKIP LOCKED",
        now,
    )


async def count_overdue(conn: asyncpg.Connection, now: datetime) -> int:
    """How many dossiers are overdue now: unfinished, clock running, past their appointment (marked with an
    `overdue` event or not yet)."""
    return await conn.fetchval(f"SELECT count(*) FROM dossiers d WHERE {CLOCK_RUNNING} AND d.appointment_at < $1", now)
