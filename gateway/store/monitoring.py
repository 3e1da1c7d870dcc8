"""What the operators' monitoring page (/giam-sat) reads: on-time figures, overdue dossiers, failed syncs, and the
operator's session key.

Outbox depth and age, dead letters and the overdue count come from the queries /metrics already uses
(`outbox.backlog`, `outbox.list_messages`, `dossiers.count_overdue`); only what those do not answer is here.
"""

from datetime import datetime

import asyncpg

from gateway.store.dossiers import CLOCK_RUNNING

# Where a dossier was filed, grouped on: the post office's or counter's province as routing resolved it (none
# for a dossier filed online on the portal, which is bound to no place).
_FILED = (
    "d.agency_code, d.channel = 'online' AS online,"
    " d.routing->'intake'->'unit'->>'province_code' AS filed_province_code,"
    " d.routing->'intake'->'unit'->>'province_name' AS filed_province_name"
)


async def operator_key(conn: asyncpg.Connection, organisation_id: int, prefix: str) -> asyncpg.Record | None:
    """The organisation behind a session, while the key it signed in with is still valid (not revoked)."""
    return await conn.fetchrow(
        "SELECT o.id, o.name, o.role FROM api_keys k JOIN organisations o ON o.id = k.organisation_id"
        " WHERE k.prefix = $1 AND k.organisation_id = $2 AND k.revoked_at IS NULL",
        prefix,
        organisation_id,
    )


async def finished_since(conn: asyncpg.Connection, since: datetime) -> list[asyncpg.Record]:
    """Dossiers whose result became ready since `since`, per lead agency and filing province: how many, and how
    many on time. The result is ready at the first event that left the dossier `result_ready` (a composite
    dossier's last step); on time when that is no later than the appointment, which supplement stops and the
    postal clock move but an apology (form 04) does not excuse: a dossier that needed one was late."""
    return await conn.fetch(
        f"SELECT {_FILED}, count(*) AS finished,"
        " count(*) FILTER (WHERE r.ready_at <= d.appointment_at AND NOT r.apologised) AS on_time"
        # Candidates from the window's result_ready events (index dossier_events_result_ready), then each one's
        # first such event, which must be in the window too.
        " FROM (SELECT DISTINCT dossier_id FROM dossier_events WHERE status_after = 'result_ready'"
        "  AND occurred_at >= $1) c JOIN dossiers d ON d.id = c.dossier_id CROSS JOIN LATERAL ("
        "  SELECT min(e.occurred_at) FILTER (WHERE e.status_after = 'result_ready') AS ready_at,"
        "   coalesce(bool_or(e.type = 'apology'), false) AS apologised"
        "  FROM dossier_events e WHERE e.dossier_id = d.id) r"
        " WHERE d.status IN ('result_ready', 'returned') AND r.ready_at >= $1"
        " GROUP BY 1, 2, 3, 4",
        since,
    )


async def overdue_counts(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    """Dossiers overdue now (as `dossiers.count_overdue` counts them), per lead agency and filing province."""
    return await conn.fetch(
        f"SELECT {_FILED}, count(*) AS overdue FROM dossiers d WHERE {CLOCK_RUNNING} AND d.appointment_at < $1"
        " GROUP BY 1, 2, 3, 4",
        now,
    )


async def overdue_list(conn: asyncpg.Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    """The longest overdue first: whether the overdue scan has marked the current appointment, and how many
    apologies (form 04) the dossier has had. No personal data."""
    return await conn.fetch(
        "SELECT d.code, d.procedure_code, d.receipt->'procedure'->>'name' AS procedure_name, d.agency_code,"
        " d.receipt->'agency'->>'name' AS agency_name, d.status, d.appointment_at,"
        " EXISTS (SELECT 1 FROM dossier_events e WHERE e.dossier_id = d.id AND e.type = 'overdue'"
        "  AND (e.data->>'appointment_at')::timestamptz >= d.appointment_at) AS overdue_marked,"
        " (SELECT count(*) FROM dossier_events e WHERE e.dossier_id = d.id AND e.type = 'apology') AS apologies"
        f" FROM dossiers d WHERE {CLOCK_RUNNING} AND d.appointment_at < $1"
        " ORDER BY d.appointment_at, d.id LIMIT $2",
        now,
        limit,
    )


async def failed_syncs(conn: asyncpg.Connection, limit: int) -> tuple[int, list[asyncpg.Record]]:
    """Dossiers whose last attempt to reach the National Public Service Portal failed: how many, and the latest."""
    total = await conn.fetchval("SELECT count(*) FROM dvcqg_sync WHERE last_error IS NOT NULL")
    rows = await conn.fetch(
        "SELECT d.code, s.last_error, s.synced_at FROM dvcqg_sync s JOIN dossiers d ON d.id = s.dossier_id"
        " WHERE s.last_error IS NOT NULL ORDER BY s.dossier_id DESC LIMIT $1",
        limit,
    )
    return total, rows
