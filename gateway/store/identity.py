"""Identity evidence, the audit of every look-up, and the cache of verified results."""

import hashlib
from datetime import datetime

import asyncpg


async def insert_evidence(conn: asyncpg.Connection, request_id: str, signed_xml: bytes) -> int:
    return await conn.fetchval(
        "INSERT INTO identity_evidence (request_id, signed_xml, sha256) VALUES ($1, $2, $3) RETURNING id",
        request_id,
        signed_xml,
        hashlib.sha256(signed_xml).digest(),
    )


async def record_check(
    conn: asyncpg.Connection,
    *,
    dossier_id: int | None,
    organisation_id: int | None,
    officer: str,
    request_id: str,
    outcome: str,
    error_code: str | None,
    latency_ms: float | None,
) -> None:
    await conn.execute(
        "INSERT INTO identity_checks (dossier_id, organisation_id, officer, request_id, outcome, error_code,"
        " latency_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        dossier_id,
        organisation_id,
        officer,
        request_id,
        outcome,
        error_code,
        latency_ms,
    )


async def cached(conn: asyncpg.Connection, key: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT outcome, evidence_id FROM identity_cache WHERE key = $1 AND expires_at > now()", key
    )


async def remember(conn: asyncpg.Connection, key: bytes, outcome: str, evidence_id: int, until: datetime) -> None:
    await conn.execute(
        "INSERT INTO identity_cache (key, outcome, evidence_id, expires_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (key) DO UPDATE SET outcome = $2, evidence_id = $3, expires_at = $4",
        key,
        outcome,
        evidence_id,
        until,
    )


async def set_dossier_identity(conn: asyncpg.Connection, dossier_id: int, status: str, evidence_id: int | None) -> None:
    await conn.execute(
        "UPDATE dossiers SET identity_status = $2, identity_evidence_id = COALESCE($3, identity_evidence_id),"
        " updated_at = now() WHERE id = $1",
        dossier_id,
        status,
        evidence_id,
    )
