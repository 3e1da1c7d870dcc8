"""What every CLI command needs before it can touch the database: a URL (embedded if none), a secret."""

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
from pydantic import SecretStr

from gateway.personal import PersonalData
from gateway.settings import Settings
from gateway.store.db import use_codecs
from gateway.store.embedded import EmbeddedPostgres
from gateway.store.migrate import migrate

DATABASE_NAME = "motcua"


async def ensure_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def with_connection[T](
    url: str, work: Callable[[asyncpg.Connection], Awaitable[T]], personal: PersonalData | None = None
) -> T:
    """Run `work` on one connection of its own, closed afterwards: for commands, not for the gateway. With
    `personal`, JSON comes and goes as the gateway's pool has it (personal fields opened and sealed); without,
    as stored text."""
    conn = await asyncpg.connect(url)
    try:
        if personal is not None:
            await use_codecs(conn, personal)
        return await work(conn)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    await with_connection(url, migrate)


@contextlib.contextmanager
def database(settings: Settings, *, up_to_date: bool = True) -> Iterator[Settings]:
    """Settings with a database URL, its schema up to date (as at any process start): the configured one,
    or a private server in the data directory. `up_to_date=False` leaves the schema to the caller."""
    if settings.database_url:
        if up_to_date:
            asyncio.run(_migrate(settings.database_url))
        yield settings
        return
    server = EmbeddedPostgres(settings.data_dir / "postgres")
    try:
        admin_url = server.start()
        asyncio.run(ensure_database(admin_url, DATABASE_NAME))
        url = server.url(DATABASE_NAME)
        if up_to_date:
            asyncio.run(_migrate(url))
        yield settings.model_copy(update={"database_url": url})
    finally:
        server.stop()


def with_secret(settings: Settings) -> Settings:
    """Settings with a server secret and a personal-data key: the configured ones, or ones generated once in the
    data directory (the demo's; production sets both)."""
    if settings.secret_key is not None:
        return settings  # configured: every process derives the same personal-data key when none is set
    update: dict[str, object] = {"secret_key": SecretStr(_generated(settings.data_dir / "secret-key"))}
    if not settings.personal_data_keys:
        update["personal_data_keys"] = [SecretStr(_generated(settings.data_dir / "personal-data-key"))]
    return settings.model_copy(update=update)


def _generated(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
