"""Idempotency keys for intake: one answer per (organisation, key), whatever the retries.

A key is claimed `in_flight` in its own short transaction, then marked `done` with the sealed answer in
the same transaction as the dossier (by the intake's one statement, gateway/store/intake.py). A process that
dies in between leaves the claim behind; after the lease it may be taken over, and the late original then
fails to complete, so it rolls back.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg


@dataclass(frozen=True)
class Claim:
    outcome: Literal["new", "replay", "in_flight", "mismatch"]
    locked_at: datetime | None = None
    response_status: int | None = None
    response_body: bytes | None = None


_INSERT_CLAIM = (
    "INSERT INTO idempotency_keys (organisation_id, key, request_hash, state) VALUES ($1, $2, $3, 'in_flight')"
    " ON CONFLICT DO NOTHING RETURNING locked_at"
)


async def claim(
    conn: asyncpg.Connection, organisation_id: int, key: str, request_hash: bytes, lease_seconds: int, ttl_hours: int
) -> Claim:
    # The common case, a key never seen, is one statement (no transaction around it); only a key already there
    # needs the transaction below.
    locked_at = await conn.fetchval(_INSERT_CLAIM, organisation_id, key, request_hash)
    if locked_at is not None:
        return Claim("new", locked_at)
    async with conn.transaction():
        # Answers older than the replay window are forgotten; the key may then be used afresh.
        await conn.execute(
            "DELETE FROM idempotency_keys WHERE organisation_id = $1 AND key = $2"
            " AND state = 'done' AND created_at < now() - make_interval(hours => $3)",
            organisation_id,
            key,
            ttl_hours,
        )
        locked_at = await conn.fetchval(_INSERT_CLAIM, organisation_id, key, request_hash)
        if locked_at is not None:
            return Claim("new", locked_at)
        row = await conn.fetchrow(
            "SELECT * FROM idempotency_keys WHERE organisation_id = $1 AND key = $2 FOR UPDATE", organisation_id, key
        )
        if row["request_hash"] != request_hash:
            return Claim("mismatch")
        if row["state"] == "done":
            return Claim("replay", response_status=row["response_status"], response_body=row["response_body"])
        taken = await conn.fetchval(
            "UPDATE idempotency_keys SET locked_at = clock_timestamp()"
            " WHERE organisation_id = $1 AND key = $2 AND locked_at < now() - make_interval(secs => $3)"
            " RETURNING locked_at",
            organisation_id,
            key,
            float(lease_seconds),
        )
        return Claim("new", taken) if taken else Claim("in_flight")


async def release(conn: asyncpg.Connection, organisation_id: int, key: str, locked_at: datetime) -> None:
    """Forget a claim whose request failed before anything was committed, so the client may retry."""
    await conn.execute(
        "DELETE FROM idempotency_keys WHERE organisation_id = $1 AND key = $2 AND state = 'in_flight'"
        " AND locked_at = $3",
        organisation_id,
        key,
        locked_at,
    )
