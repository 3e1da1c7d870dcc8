"""Integration fixtures: one PostgreSQL per test run (embedded unless MOTCUA_DATABASE_URL is set), a clean
state per test, and the gateway served on a real socket by pytest-aiohttp."""

import asyncio
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import structlog
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from gateway.app import create_app, personal_data
from gateway.personal import PersonalData
from gateway.runtime import ensure_database
from gateway.settings import Settings
from gateway.store import clients
from gateway.store.embedded import EmbeddedPostgres
from gateway.store.migrate import migrate

pytest_plugins = ["tests.mailing"]  # the VNPost simulator fixtures

# structlog's default console renderer shows tracebacks with rich (installed with schemathesis), locals and
# all: slow under a burst of errors (the outage tests) and showing values. Plain tracebacks instead.
structlog.configure(
    processors=[
        *structlog.get_config()["processors"][:-1],
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
    ]
)
TEST_LOGGING = structlog.get_config()
TEST_DATABASE = "motcua_test"
SECRET = "test-secret-" + "x" * 40


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _prepare(admin_url: str) -> str:
    url = _with_database(admin_url, TEST_DATABASE)
    try:
        await ensure_database(admin_url, TEST_DATABASE)
    except asyncpg.InsufficientPrivilegeError:
        url = admin_url  # no CREATEDB on the external server: use the database we were given
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds, so the session's PostgreSQL is stopped by its finalizer


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    # A run ended by SIGTERM (a CI or shell timeout) would otherwise leave its private server running.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    external = os.environ.get("MOTCUA_DATABASE_URL")
    if external:
        yield asyncio.run(_prepare(external))
        return
    base = Path(tempfile.mkdtemp(prefix="motcua-test-"))
    server = EmbeddedPostgres(base, durable=False)
    try:
        yield asyncio.run(_prepare(server.start()))
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


async def _truncate_all(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def db_url(database_url: str) -> str:
    """The test database, emptied before the test (schema kept)."""
    await _truncate_all(database_url)
    return database_url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(db_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, secret_key=SecretStr(SECRET), db_pool_max=20, data_dir=tmp_path)


@pytest.fixture
def personal(settings: Settings) -> PersonalData:
    """The cipher the gateway built from `settings` seals ID and phone numbers with (gateway/personal.py)."""
    return personal_data(settings)


@pytest.fixture
async def client(aiohttp_client, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))


@dataclass
class Org:
    id: int
    key: str
    role: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def make_org(conn: asyncpg.Connection, name: str, role: str, **kwargs) -> Org:
    org_id = await clients.create_organisation(conn, name, role, **kwargs)
    return Org(org_id, await clients.issue_key(conn, org_id), role)


@dataclass
class Orgs:
    postal: Org
    other_postal: Org
    counter: Org
    agency: Org  # Sở Tư pháp Hà Nội: where the sample dossier routes
    other_agency: Org
    portal: Org
    admin: Org


@pytest.fixture
async def orgs(db: asyncpg.Connection) -> Orgs:
    return Orgs(
        postal=await make_org(db, "Bưu điện Ba Đình", "postal", unit_code="00004"),
        other_postal=await make_org(db, "Bưu điện Hải Vân", "postal", unit_code="20194"),
        counter=await make_org(db, "Một cửa phường Hải Vân", "counter", unit_code="20194"),
        agency=await make_org(db, "Sở Tư pháp Hà Nội", "agency", agency_code="000.00.10.H26"),
        other_agency=await make_org(db, "Sở Tư pháp Đà Nẵng", "agency", agency_code="000.00.10.H17"),
        portal=await make_org(db, "Cổng DVCQG", "portal"),
        admin=await make_org(db, "Vận hành", "admin"),
    )


@pytest.fixture
def open_tmp_path() -> Iterator[Path]:
    """A fresh temporary folder that other users may traverse: as root, the embedded PostgreSQL runs as the
    `postgres` user and must reach its data below it (pytest's own tmp_path is closed to others)."""
    path = Path(tempfile.mkdtemp(prefix="motcua-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
