"""Identity evidence, the audit of every look-up, and the cache of verified results."""

import hashlib
from datetime import datetime

import asyncpg

from gateway.personal import PersonalData, PersonalDataError

EVIDENCE_PURPOSE = "identity-evidence"


async def insert_evidence(conn: asyncpg.Connection, personal: PersonalData, request_id: str, signed_xml: bytes) -> int:
    """Keep the signed answer as evidence: sealed (it names the citizen), with the hash of the clear XML."""
    return await conn.fetchval(
        "INSERT INTO identity_evidence (request_id, signed_xml, sha256) VALUES ($1, $2, $3) RETURNING id",
        request_id,
        personal.seal_bytes(EVIDENCE_PURPOSE, signed_xml),
        hashlib.sha256(signed_xml).digest(),
    )


async def read_evidence(conn: asyncpg.Connection, personal: PersonalData, evidence_id: int) -> bytes | None:
    """The signed XML as the population database answered it, checked against the hash kept beside it."""
    row = await conn.fetchrow("SELECT signed_xml, sha256 FROM identity_evidence WHERE id = $1", evidence_id)
    if row is None:
        return None
    signed_xml = personal.open_bytes(EVIDENCE_PURPOSE, row["signed_xml"])
    if hashlib.sha256(signed_xml).digest() != row["sha256"]:
        raise PersonalDataError(f"Bằng chứng xác thực số {evidence_id} không khớp với mã băm đã lưu.")
    return signed_xml


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
