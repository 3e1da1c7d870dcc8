"""Postal items, their tracking events, and the S10 number pool."""

from datetime import datetime

import asyncpg

from adapters.postal.messages import TrackingEvent
from adapters.postal.s10 import check_digit
from adapters.postal.status import FINAL

REUSE_AFTER = "12 months"


class PoolExhausted(Exception):
    """Every serial of every configured prefix is used (or was, within 12 months)."""


async def allocate_s10(conn: asyncpg.Connection, prefixes: list[str]) -> str:
    """The next S10 number from the pool, in the caller's transaction: serials run per prefix, a number used
    within 12 months (by us or assigned by VNPost) is skipped, and the one returned is recorded as used."""
    for prefix in prefixes:
        await conn.execute(
            "INSERT INTO s10_serials (prefix, next_serial) VALUES ($1, 0) ON CONFLICT DO NOTHING", prefix
        )
        while True:
            serial = await conn.fetchval(
                "UPDATE s10_serials SET next_serial = next_serial + 1 WHERE prefix = $1 AND next_serial < 100000000"
                " RETURNING next_serial - 1",
                prefix,
            )
            if serial is None:
                break  # this prefix is used up: the next one
            digits = f"{serial:08d}"
            item_code = f"{prefix}{digits}{check_digit(digits)}VN"
            if await mark_used(conn, item_code):
                return item_code
    raise PoolExhausted(", ".join(prefixes))


async def mark_used(conn: asyncpg.Connection, item_code: str) -> bool:
    """Record a number as used now; False if it was used within 12 months (then it must not be used again)."""
    recorded = await conn.fetchval(
        "INSERT INTO s10_used (item_code) VALUES ($1)"
        " ON CONFLICT (item_code) DO UPDATE SET used_at = now()"
        f" WHERE s10_used.used_at < now() - interval '{REUSE_AFTER}'"
        " RETURNING item_code",
        item_code,
    )
    return recorded is not None


async def result_item(conn: asyncpg.Connection, dossier_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM postal_items WHERE dossier_id = $1 AND direction = 'result'", dossier_id)


async def insert_item(
    conn: asyncpg.Connection, item_code: str, dossier_id: int, order_number: str, assigned_by: str, cod_due: int
) -> None:
    await conn.execute(
        "INSERT INTO postal_items (item_code, dossier_id, direction, assigned_by, order_number, cod_due)"
        " VALUES ($1, $2, 'result', $3, $4, $5)",
        item_code,
        dossier_id,
        assigned_by,
        order_number,
        cod_due,
    )


async def mark_ordered(conn: asyncpg.Connection, item_code: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE postal_items SET ordered_at = $2, last_event_at = COALESCE(last_event_at, $2) WHERE item_code = $1",
        item_code,
        at,
    )


async def get_item(conn: asyncpg.Connection, item_code: str, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM postal_items WHERE item_code = $1{lock}", item_code)


async def add_event(conn: asyncpg.Connection, event: TrackingEvent, source: str) -> bool:
    """Store one event; False when it was already stored (a duplicate callback, or a poll repeating it)."""
    inserted = await conn.fetchval(
        "INSERT INTO postal_events (item_code, code, name, status, occurred_at, source, post_office, note, cod_amount)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id",
        event.item_code,
        event.code,
        event.name,
        event.status,
        event.occurred_at,
        source,
        event.post_office,
        event.note,
        event.cod_amount,
    )
    return inserted is not None


async def events_of(conn: asyncpg.Connection, item_code: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM postal_events WHERE item_code = $1 ORDER BY occurred_at, code", item_code)


async def set_status(conn: asyncpg.Connection, item_code: str, status: str | None) -> None:
    await conn.execute(
        "UPDATE postal_items SET status = $2, last_event_at = now() WHERE item_code = $1", item_code, status
    )


async def quiet_items(conn: asyncpg.Connection, quiet_since: datetime, limit: int = 100) -> list[str]:
    """Ordered items, not final, that VNPost has said nothing about since `quiet_since`."""
    rows = await conn.fetch(
        "SELECT item_code FROM postal_items WHERE ordered_at IS NOT NULL"
        " AND (status IS NULL OR status <> ALL($2::text[])) AND last_event_at < $1"
        " ORDER BY last_event_at LIMIT $3",
        quiet_since,
        [status.value for status in FINAL],
        limit,
    )
    return [row["item_code"] for row in rows]


async def reconciliation(conn: asyncpg.Connection, start: datetime, end: datetime) -> list[asyncpg.Record]:
    """Mailed results ordered in [start, end): COD due on each, and what VNPost reported paid out for it."""
    return await conn.fetch(
        "SELECT i.item_code, i.order_number, i.ordered_at, i.status, i.cod_due,"
        " COALESCE(sum(e.cod_amount) FILTER (WHERE e.code = 21), 0)::bigint AS cod_paid,"
        " max(e.occurred_at) FILTER (WHERE e.code = 21) AS paid_at"
        " FROM postal_items i LEFT JOIN postal_events e ON e.item_code = i.item_code"
        " WHERE i.ordered_at >= $1 AND i.ordered_at < $2"
        " GROUP BY i.item_code ORDER BY i.ordered_at, i.item_code",
        start,
        end,
    )
