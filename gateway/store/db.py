"""The asyncpg pool, and the one place database outages become `ServiceUnavailable`."""

import asyncpg

from gateway.errors import ServiceUnavailable
from gateway.personal import PersonalData
from gateway.settings import Settings

# Errors that mean "the database is not there right now", as opposed to a bug in our SQL.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
)


async def use_codecs(conn: asyncpg.Connection, personal: PersonalData) -> None:
    """JSON in and out as Python values, personal fields sealed on the way in and opened on the way out
    (gateway/personal.py), so no query or handler ever sees, or writes, a sealed value or a clear one at rest."""
    for kind in ("jsonb", "json"):
        await conn.set_type_codec(kind, encoder=personal.dumps, decoder=personal.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """On release, asyncpg rolls back an open transaction and, by default, also runs a reset query (advisory
    unlock, CLOSE ALL, UNLISTEN, RESET ALL): one more round trip for every acquire. The gateway leaves no such
    session state: its advisory locks are all transaction-level (pg_advisory_xact_lock), and it never uses
    SET, LISTEN or cursors outside a transaction. So the rollback is kept and the query skipped."""


async def create_pool(settings: Settings, dsn: str, personal: PersonalData) -> asyncpg.Pool:
    async def init(conn: asyncpg.Connection) -> None:
        await use_codecs(conn, personal)

    return await asyncpg.create_pool(
        dsn,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=settings.db_command_timeout,
        timeout=settings.db_connect_timeout,
        init=init,
        reset=_keep_session,
    )


def unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "Cơ sở dữ liệu tạm thời không truy cập được. Vui lòng gửi lại sau ít phút.",
        code="database.unavailable",
        headers={"Retry-After": "5"},
    )
