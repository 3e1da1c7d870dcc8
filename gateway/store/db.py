"""The asyncpg pool, and the one place database outages become `ServiceUnavailable`."""

import json

import asyncpg

from gateway.errors import ServiceUnavailable
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


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(settings: Settings, dsn: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=settings.db_command_timeout,
        timeout=settings.db_connect_timeout,
        init=_init_connection,
    )


def unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "Cơ sở dữ liệu tạm thời không truy cập được. Vui lòng gửi lại sau ít phút.",
        code="database.unavailable",
        headers={"Retry-After": "5"},
    )
