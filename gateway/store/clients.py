"""Organisations and their API keys."""

from dataclasses import dataclass

import asyncpg

from gateway.security import hash_api_key, key_prefix, new_api_key

ROLES = ("postal", "counter", "agency", "portal", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    organisation_id: int
    name: str
    role: str
    agency_code: str | None
    unit_code: str | None
    key_prefix: str | None = None  # the API key used, so an act can be traced to one key


async def create_organisation(
    conn: asyncpg.Connection, name: str, role: str, *, agency_code: str | None = None, unit_code: str | None = None
) -> int:
    return await conn.fetchval(
        "INSERT INTO organisations (name, role, agency_code, unit_code) VALUES ($1, $2, $3, $4) RETURNING id",
        name,
        role,
        agency_code,
        unit_code,
    )


async def find_organisation(conn: asyncpg.Connection, name: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM organisations WHERE name = $1", name)


async def issue_key(conn: asyncpg.Connection, organisation_id: int) -> str:
    prefix, key = new_api_key()
    await conn.execute(
        "INSERT INTO api_keys (organisation_id, prefix, key_hash) VALUES ($1, $2, $3)",
        organisation_id,
        prefix,
        hash_api_key(key),
    )
    return key


async def authenticate(conn: asyncpg.Connection, key: str) -> Principal | None:
    prefix = key_prefix(key)
    if prefix is None:
        return None
    row = await conn.fetchrow(
        "SELECT o.id, o.name, o.role, o.agency_code, o.unit_code, k.key_hash, k.prefix"
        " FROM api_keys k JOIN organisations o ON o.id = k.organisation_id"
        " WHERE k.prefix = $1 AND k.revoked_at IS NULL",
        prefix,
    )
    if row is None or row["key_hash"] != hash_api_key(key):
        return None
    return Principal(row["id"], row["name"], row["role"], row["agency_code"], row["unit_code"], row["prefix"])


async def list_clients(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT o.id, o.name, o.role, o.agency_code, o.unit_code, k.prefix, k.created_at, k.revoked_at"
        " FROM organisations o LEFT JOIN api_keys k ON k.organisation_id = o.id ORDER BY o.id, k.id"
    )


async def revoke_key(conn: asyncpg.Connection, prefix: str) -> bool:
    status = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE prefix = $1 AND revoked_at IS NULL", prefix
    )
    return status.endswith(" 1")
