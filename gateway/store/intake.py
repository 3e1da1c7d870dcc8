"""The intake's write: a new dossier and everything that comes with it, in ONE statement.

A round trip to PostgreSQL costs the gateway more CPU than the work it carries (bench/README.md), and an
intake used to make one per row: the dossier, its first event, its portal-sync message, the identity audit
(and a fresh answer's evidence and cache entry), its steps, the S10 number marked used, the idempotent answer.
They are data-modifying CTEs of one statement here, which PostgreSQL runs to completion whether or not the
final SELECT reads them; the caller's transaction (with the code allocation before it) makes them one commit.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from gateway.personal import PersonalData
from gateway.store.dossiers import event_hash
from gateway.store.identity import EVIDENCE_PURPOSE
from gateway.store.outbox import DVCQG_SYNC
from gateway.store.postal import REUSE_AFTER


@dataclass(frozen=True)
class Evidence:
    """A fresh signed answer of the population database (stored sealed, with the hash of the clear XML), and
    the cache key under which a verified answer is remembered until `cache_until` (None: not cached)."""

    request_id: str
    signed_xml: bytes
    cache_key: bytes | None = None
    cache_until: datetime | None = None


@dataclass(frozen=True)
class Audit:
    """One row of identity_checks: who asked, which request, with what outcome."""

    officer: str
    request_id: str
    outcome: str
    error_code: str | None
    latency_ms: float | None


@dataclass(frozen=True)
class NewDossier:
    """Everything the intake writes for one dossier."""

    dossier: dict[str, Any]  # the dossiers row's columns (identity_evidence_id: a cached verification's, or None)
    event: dict[str, Any]  # the first event: type, status_after, occurred_at, actor_org_id, data
    steps: list[tuple[int, str, str]]  # (order, agency code, name), all waiting
    audit: Audit | None  # None when identity was not checked
    evidence: Evidence | None
    item_number: str | None  # a postal dossier's S10 number, not to be handed out again within 12 months
    idempotency: tuple[int, str, datetime]  # (organisation, key, locked_at) of the claim this answers
    answer: bytes  # the sealed 201 body kept for replays


_COLUMNS = (
    "code",
    "procedure_code",
    "agency_code",
    "submitter_org_id",
    "channel",
    "status",
    "identity_status",
    "identity_evidence_id",
    "received_at",
    "appointment_at",
    "pin_salt",
    "pin_hash",
    "body",
    "applicant_lookup",
    "routing",
    "receipt",
)
_JSON = ("body", "routing", "receipt")
_N = len(_COLUMNS)


def _value(i: int, name: str) -> str:
    if name == "identity_evidence_id":  # a cached verification's, else the fresh evidence inserted before it
        return f"COALESCE(${i}::bigint, (SELECT id FROM evidence))"
    return f"${i}::jsonb" if name in _JSON else f"${i}"


_VALUES = ", ".join(_value(i, name) for i, name in enumerate(_COLUMNS, 1))


def _p(offset: int) -> str:
    return f"${_N + offset}"


_INSERT = f"""
WITH evidence AS (
    INSERT INTO identity_evidence (request_id, signed_xml, sha256)
    SELECT {_p(1)}::text, {_p(2)}::bytea, {_p(3)}::bytea WHERE {_p(1)}::text IS NOT NULL
    RETURNING id
), cached AS (
    INSERT INTO identity_cache (key, outcome, evidence_id, expires_at)
    SELECT {_p(4)}::bytea, 'verified', evidence.id, {_p(5)}::timestamptz FROM evidence WHERE {_p(4)}::bytea IS NOT NULL
    ON CONFLICT (key) DO UPDATE SET outcome = EXCLUDED.outcome, evidence_id = EXCLUDED.evidence_id,
        expires_at = EXCLUDED.expires_at
), dossier AS (
    INSERT INTO dossiers ({", ".join(_COLUMNS)}) VALUES ({_VALUES})
    RETURNING id
), event AS (
    INSERT INTO dossier_events (dossier_id, seq, type, status_after, occurred_at, actor_org_id, data, hash)
    SELECT dossier.id, 1, {_p(6)}::text, {_p(7)}::text, {_p(8)}::timestamptz, {_p(9)}::bigint, {_p(10)}::jsonb,
        {_p(11)}::bytea FROM dossier
), sync AS (
    INSERT INTO outbox (message_id, kind, dossier_id, payload)
    SELECT gen_random_uuid(), {_p(12)}::text, dossier.id, '{{}}' FROM dossier
), audit AS (  -- asked by the submitting organisation, the first event's actor
    INSERT INTO identity_checks (dossier_id, organisation_id, officer, request_id, outcome, error_code, latency_ms)
    SELECT dossier.id, {_p(9)}::bigint, {_p(13)}::text, {_p(14)}::text, {_p(15)}::text, {_p(16)}::text,
        {_p(17)}::double precision FROM dossier WHERE {_p(15)}::text IS NOT NULL
), steps AS (
    INSERT INTO dossier_steps (dossier_id, step_order, agency_code, name, status)
    SELECT dossier.id, step.step_order, step.agency_code, step.name, 'waiting'
    FROM dossier, unnest({_p(18)}::int[], {_p(19)}::text[], {_p(20)}::text[]) AS step (step_order, agency_code, name)
), item AS (
    INSERT INTO s10_used (item_code) SELECT {_p(21)}::text WHERE {_p(21)}::text IS NOT NULL
    ON CONFLICT (item_code) DO UPDATE SET used_at = now() WHERE s10_used.used_at < now() - interval '{REUSE_AFTER}'
), answer AS (
    UPDATE idempotency_keys SET state = 'done', response_status = 201, response_body = {_p(22)}::bytea
    WHERE organisation_id = {_p(23)}::bigint AND key = {_p(24)}::text AND state = 'in_flight'
        AND locked_at = {_p(25)}::timestamptz
    RETURNING 1
)
SELECT dossier.id, EXISTS (SELECT FROM answer) AS answered FROM dossier
"""


async def insert(conn: asyncpg.Connection, personal: PersonalData | None, new: NewDossier) -> tuple[int, bool]:
    """Write `new`; return the dossier's id and whether the idempotent answer was recorded (False: the claim
    was taken over meanwhile, and the caller must roll back). A fresh answer's evidence is sealed with `personal`
    (None only when there is none). Call inside the transaction that allocated the dossier's code."""
    event = new.event
    digest = event_hash(
        None,
        seq=1,
        type=event["type"],
        status_after=event["status_after"],
        occurred_at=event["occurred_at"],
        actor_org_id=event["actor_org_id"],
        external_id=None,
        data=event["data"],
    )
    evidence, audit = new.evidence, new.audit
    row = await conn.fetchrow(
        _INSERT,
        *(new.dossier[name] for name in _COLUMNS),
        evidence.request_id if evidence else None,
        personal.seal_bytes(EVIDENCE_PURPOSE, evidence.signed_xml) if evidence else None,
        hashlib.sha256(evidence.signed_xml).digest() if evidence else None,
        evidence.cache_key if evidence and evidence.cache_until else None,
        evidence.cache_until if evidence else None,
        event["type"],
        event["status_after"],
        event["occurred_at"],
        event["actor_org_id"],
        event["data"],
        digest,
        DVCQG_SYNC,
        audit.officer if audit else None,
        audit.request_id if audit else None,
        audit.outcome if audit else None,
        audit.error_code if audit else None,
        audit.latency_ms if audit else None,
        [order for order, _, _ in new.steps],
        [agency for _, agency, _ in new.steps],
        [name for _, _, name in new.steps],
        new.item_number,
        new.answer,
        *new.idempotency,
    )
    return row["id"], row["answered"]
