"""Announced days off, stored so that every gateway process and every command sees the same ones."""

from datetime import date

import asyncpg


async def add_day_off(conn: asyncpg.Connection, day: date, reason: str, added_by: str | None = None) -> bool:
    """Store a day off; False (and nothing changed) when that day is already stored."""
    inserted = await conn.fetchval(
        "INSERT INTO days_off (day, reason, added_by) VALUES ($1, $2, $3) ON CONFLICT (day) DO NOTHING RETURNING 1",
        day,
        reason,
        added_by,
    )
    return inserted is not None


async def remove_day_off(conn: asyncpg.Connection, day: date) -> bool:
    """Remove a stored day off; False when there was none."""
    return await conn.fetchval("DELETE FROM days_off WHERE day = $1 RETURNING 1", day) is not None


async def list_days_off(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every stored day off (day, reason, added_by, added_at), oldest day first."""
    return await conn.fetch("SELECT day, reason, added_by, added_at FROM days_off ORDER BY day")


async def days_off_reasons(conn: asyncpg.Connection) -> dict[date, str]:
    """The stored days off with their reasons, as the working calendar takes them."""
    return {row["day"]: row["reason"] for row in await conn.fetch("SELECT day, reason FROM days_off")}
