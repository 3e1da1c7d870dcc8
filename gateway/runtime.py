"""What every CLI command needs before it can touch the database: a URL (embedded if none), a secret."""

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import asyncpg
from pydantic import SecretStr

from gateway.settings import Settings
from gateway.store.embedded import EmbeddedPostgres

DATABASE_NAME = "motcua"


async def ensure_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[Settings]:
    """Settings with a database URL: the configured one, or a private server in the data directory."""
    if settings.database_url:
        yield settings
        return
    server = EmbeddedPostgres(settings.data_dir / "postgres")
    try:
        admin_url = server.start()
        asyncio.run(ensure_database(admin_url, DATABASE_NAME))
        yield settings.model_copy(update={"database_url": server.url(DATABASE_NAME)})
    finally:
        server.stop()


def with_secret(settings: Settings) -> Settings:
    """Settings with a secret key: the configured one, or one generated once in the data directory."""
    if settings.secret_key is not None:
        return settings
    path: Path = settings.data_dir / "secret-key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return settings.model_copy(update={"secret_key": SecretStr(path.read_text().strip())})
