"""Failed tracking attempts, counted in PostgreSQL so every gateway process shares the limit."""

import asyncpg


async def serialise(conn: asyncpg.Connection, subject: str) -> None:
    """Serialise attempts on one subject until the transaction ends, so a burst cannot outrun the count."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", subject)


async def attempt(
    conn: asyncpg.Connection, code: str, subjects: tuple[str, str], window_seconds: int
) -> asyncpg.Record:
    """One round trip for a look-up: the failures counted in the window on the code and on the address, and the
    dossier's columns (all NULL when no dossier has this code)."""
    return await conn.fetchrow(
        "SELECT coalesce((SELECT failures FROM tracking_failures WHERE subject = $2"
        "  AND window_start > now() - make_interval(secs => $4)), 0) AS code_failures,"
        " coalesce((SELECT failures FROM tracking_failures WHERE subject = $3"
        "  AND window_start > now() - make_interval(secs => $4)), 0) AS address_failures,"
        " d.* FROM (SELECT 1) AS one LEFT JOIN dossiers d ON d.code = $1",
        code,
        *subjects,
        float(window_seconds),
    )


async def failures(conn: asyncpg.Connection, subject: str, window_seconds: int) -> int:
    return (
        await conn.fetchval(
            "SELECT failures FROM tracking_failures WHERE subject = $1"
            " AND window_start > now() - make_interval(secs => $2)",
            subject,
            float(window_seconds),
        )
        or 0
    )


async def record_failure(conn: asyncpg.Connection, subject: str, window_seconds: int) -> None:
    await conn.execute(
        "INSERT INTO tracking_failures (subject, window_start, failures) VALUES ($1, now(), 1)"
        " ON CONFLICT (subject) DO UPDATE SET"
        " failures = CASE WHEN tracking_failures.window_start > now() - make_interval(secs => $2)"
        "                 THEN tracking_failures.failures + 1 ELSE 1 END,"
        " window_start = CASE WHEN tracking_failures.window_start > now() - make_interval(secs => $2)"
        "                 THEN tracking_failures.window_start ELSE now() END",
        subject,
        float(window_seconds),
    )
