"""Migrations (real PostgreSQL): numbered without gaps, applied once under concurrency, reported by /readyz."""

import asyncio
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from gateway.store.migrate import available_migrations, migrate, pending_migrations


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture
async def fresh_database_url(database_url: str) -> AsyncIterator[str]:
    """A new, empty database on the test server, dropped after the test."""
    name = f"motcua_migrate_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(database_url)
    try:
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.InsufficientPrivilegeError:
            pytest.skip("the test server refuses CREATE DATABASE")
        try:
            yield _with_database(database_url, name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def test_migrations_are_numbered_from_one_without_gaps():
    """The bundled migrations carry versions 1, 2, … n with distinct names and non-empty SQL."""
    migrations = available_migrations()
    assert migrations, "no migration found in gateway/store/migrations"
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert len({m.name for m in migrations}) == len(migrations)
    assert all(m.sql.strip() for m in migrations)


async def test_concurrent_migrate_applies_each_migration_exactly_once(fresh_database_url):
    """Two processes migrating a fresh database at once both succeed, and every migration is applied by
    exactly one of them and recorded once."""
    first, second = await asyncpg.connect(fresh_database_url), await asyncpg.connect(fresh_database_url)
    try:
        assert await pending_migrations(first) == [m.version for m in available_migrations()]
        applied = await asyncio.gather(migrate(first), migrate(second))
        expected = [m.version for m in available_migrations()]
        assert sorted(applied[0] + applied[1]) == expected
        assert [] in applied  # the one that waited for the lock found nothing left to do
        rows = await first.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in available_migrations()]
        assert await pending_migrations(first) == []
        assert await pending_migrations(second) == []
        assert await migrate(first) == []
    finally:
        await first.close()
        await second.close()


async def test_readyz_is_ready_when_the_schema_is_current(client):
    """/readyz answers 200 with the database and migrations checks both ok."""
    answer = await client.get("/readyz")
    assert answer.status == 200
    assert await answer.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


async def test_readyz_is_not_ready_while_a_migration_is_pending(client, db):
    """/readyz answers 503 problem+json service.not_ready naming the pending version while one is missing."""
    row = await db.fetchrow("SELECT version, name, applied_at FROM schema_migrations WHERE version = 1")
    assert row is not None
    await db.execute("DELETE FROM schema_migrations WHERE version = 1")
    try:
        answer = await client.get("/readyz")
        assert answer.status == 503
        assert answer.content_type == "application/problem+json"
        assert answer.headers["Retry-After"] == "5"
        problem = await answer.json()
        assert problem["code"] == "service.not_ready"
        assert problem["checks"] == {"database": "ok", "migrations": "pending: [1]"}
    finally:
        await db.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (version) DO NOTHING",
            row["version"],
            row["name"],
            row["applied_at"],
        )
    assert (await client.get("/readyz")).status == 200


async def test_steps_migration_gives_dossiers_taken_before_it_their_steps(fresh_database_url):
    """0007 backfills dossier_steps from each dossier's stored routing: the first order takes the dossier's
    status and delivery, later orders wait; a returned dossier's step has its result, a withdrawn one's is
    cancelled."""
    conn = await asyncpg.connect(fresh_database_url)
    try:
        await conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL)")
        for migration in available_migrations():
            if migration.version < 7:
                await conn.execute(migration.sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", migration.version, migration.name)
        org = await conn.fetchval("INSERT INTO organisations (name, role) VALUES ('Bưu điện', 'postal') RETURNING id")

        def step(order: int, agency: str) -> str:
            return f'{{"order": {order}, "name": "Bước {order}", "agency": {{"identifier": "{agency}"}}}}'

        async def old_dossier(code: str, status: str, steps: list[str]) -> int:
            return await conn.fetchval(
                "INSERT INTO dossiers (code, procedure_code, agency_code, submitter_org_id, channel, status,"
                " received_at, appointment_at, pin_salt, pin_hash, body, routing, receipt)"
                " VALUES ($1, 'x', 'A', $2, 'postal', $3, now(), now(), '', '', '{}', $4::jsonb, '{}') RETURNING id",
                code,
                org,
                status,
                f'{{"steps": [{", ".join(steps)}]}}',
            )

        composite = await old_dossier("A-1", "processing", [step(1, "A"), step(2, "B"), step(2, "C")])
        message = await conn.fetchval(
            "INSERT INTO outbox (message_id, kind, dossier_id, target, payload)"
            " VALUES (gen_random_uuid(), 'agency.deliver', $1, 'A', '{}') RETURNING message_id",
            composite,
        )
        returned = await old_dossier("A-2", "returned", [step(1, "A")])
        withdrawn = await old_dossier("A-3", "withdrawn", [step(1, "A")])
        assert await migrate(conn) == [m.version for m in available_migrations() if m.version >= 7]
        rows = await conn.fetch(
            "SELECT dossier_id, step_order, agency_code, status, message_id FROM dossier_steps"
            " ORDER BY dossier_id, step_order, agency_code"
        )
        assert [tuple(r) for r in rows] == [
            (composite, 1, "A", "processing", message),
            (composite, 2, "B", "waiting", None),
            (composite, 2, "C", "waiting", None),
            (returned, 1, "A", "result_ready", None),
            (withdrawn, 1, "A", "cancelled", None),
        ]
    finally:
        await conn.close()
