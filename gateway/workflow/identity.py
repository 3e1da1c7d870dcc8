"""Identity verification of an applicant: cache, then the population database, then the matching rules.

`verify` never raises for the register's sake: an outage, a timeout or an answer we cannot trust gives
status `pending` (intake accepts the dossier and a worker retries). The caller decides what a mismatch
means: intake refuses the dossier (422), the retry worker flags an already accepted one.
"""

import asyncio
import hashlib
import hmac
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import asyncpg
import structlog

from gateway.keys import Services
from gateway.schemas import Applicant
from gateway.store import identity as store
from gateway.store import intake as intake_store
from identity.errors import IdentityError, UntrustedAnswer
from identity.model import CitizenQuery, RegisterAnswer
from identity.rules import compare

log = structlog.get_logger(__name__)

Status = Literal["verified", "partial", "mismatch", "pending", "not_checked"]


@dataclass(frozen=True)
class Verification:
    status: Status
    officer: str
    request_id: str | None = None
    answer: RegisterAnswer | None = None  # the signed answer to keep as evidence
    evidence_id: int | None = None  # when the result came from the cache
    explanation: str = ""  # Vietnamese, for a mismatch or partial match; no register data in it
    error_code: str | None = None  # why it is pending
    latency_ms: float | None = None
    cache_key: bytes | None = None

    @property
    def audit_outcome(self) -> str:
        if self.evidence_id is not None:
            return "cached"
        return {"pending": "unavailable" if self.error_code != "identity.untrusted" else "untrusted"}.get(
            self.status, self.status
        )


def cache_key(secret: bytes, applicant: Applicant) -> bytes:
    """Keyed hash of (ID number, folded name, birth data): finds a verification without storing any of them."""
    name = " ".join(unicodedata.normalize("NFC", applicant.full_name).casefold().split())
    birth = applicant.date_of_birth.isoformat() if applicant.date_of_birth else str(applicant.birth_year)
    material = "|".join(("identity-cache/v1", applicant.id_number, name, birth, applicant.sex or "")).encode()
    return hmac.new(secret, material, hashlib.sha256).digest()


def officer_of(organisation_id: int, key_prefix: str | None = None) -> str:
    """MaCanBo: the client organisation and, at intake, the API key that asked."""
    return f"ORG-{organisation_id}/KEY-{key_prefix}" if key_prefix else f"ORG-{organisation_id}"


async def verify(services: Services, officer: str, unit_code: str | None, applicant: Applicant) -> Verification:
    if services.register is None:
        return Verification("not_checked", officer)
    settings = services.settings
    key = cache_key(services.server_secret, applicant)
    async with services.connection() as conn:
        hit = await store.cached(conn, key)
    if hit is not None:
        return Verification(hit["outcome"], officer, evidence_id=hit["evidence_id"], cache_key=key)
    query = CitizenQuery(
        request_id=uuid.uuid4().hex,
        id_number=applicant.id_number,
        full_name=applicant.full_name,
        birth_date=applicant.date_of_birth,
        birth_year=applicant.date_of_birth.year if applicant.date_of_birth else applicant.birth_year,
        officer=officer,
        unit=unit_code or "-",
        service_code=settings.identity_service_code,
        cmnd_number=applicant.cmnd_number,
    )
    started = time.perf_counter()
    try:
        async with asyncio.timeout(settings.identity_timeout_seconds * 2):  # the client's own timeout comes first
            answer = await services.register.look_up(query)
    except (IdentityError, TimeoutError) as exc:
        code = exc.code if isinstance(exc, IdentityError) else "identity.timeout"
        level = log.warning if isinstance(exc, UntrustedAnswer) else log.info
        level("identity.pending", request_id=query.request_id, error=code)
        untrusted = isinstance(exc, UntrustedAnswer)
        return _observed(
            services,
            Verification(
                "pending",
                officer,
                query.request_id,
                error_code="identity.untrusted" if untrusted else code,
                latency_ms=(time.perf_counter() - started) * 1000,
            ),
        )
    except BaseException:
        services.metrics.identity_seconds.labels("error").observe(time.perf_counter() - started)
        raise
    latency = (time.perf_counter() - started) * 1000
    if not answer.found or answer.record is None:
        return _observed(
            services,
            Verification(
                "mismatch",
                officer,
                query.request_id,
                answer,
                explanation="Không tìm thấy số định danh cá nhân này trong Cơ sở dữ liệu quốc gia về dân cư.",
                latency_ms=latency,
            ),
        )
    comparison = compare(query, answer.record, applicant.sex)
    status: Status = {"match": "verified", "partial": "partial", "mismatch": "mismatch"}[comparison.outcome]
    return _observed(
        services,
        Verification(
            status,
            officer,
            query.request_id,
            answer,
            explanation=comparison.explanation(),
            latency_ms=latency,
            cache_key=key,
        ),
    )


# Pending because the register did not answer in time; a pending verification for any other reason (a fault,
# an answer that cannot be trusted) is an `error` in motcua_identity_seconds.
_NO_ANSWER = {"identity.unavailable", "identity.timeout"}


def _observed(services: Services, verification: Verification) -> Verification:
    """The look-up's time into motcua_identity_seconds, by outcome; the verification unchanged."""
    outcome = verification.status
    if outcome == "pending" and verification.error_code not in _NO_ANSWER:
        outcome = "error"
    services.metrics.identity_seconds.labels(outcome).observe((verification.latency_ms or 0.0) / 1000)
    return verification


def for_new_dossier(
    services: Services, verification: Verification
) -> tuple[intake_store.Audit | None, intake_store.Evidence | None]:
    """What `record` writes, as the intake's one statement takes it (gateway/store/intake.py): the audit row,
    and a fresh answer's evidence with its cache entry when verified."""
    audit = None
    if verification.status != "not_checked":
        audit = intake_store.Audit(
            verification.officer,
            verification.request_id or "-",
            verification.audit_outcome,
            verification.error_code,
            verification.latency_ms,
        )
    evidence = None
    if verification.answer is not None:
        cache_seconds = services.settings.identity_cache_seconds
        cached = verification.status == "verified" and verification.cache_key is not None and cache_seconds > 0
        evidence = intake_store.Evidence(
            verification.answer.request_id,
            verification.answer.signed_xml,
            verification.cache_key if cached else None,
            datetime.now(UTC) + timedelta(seconds=cache_seconds) if cached else None,
        )
    return audit, evidence


async def record(
    services: Services,
    conn: asyncpg.Connection,
    verification: Verification,
    *,
    dossier_id: int | None,
    organisation_id: int,
) -> int | None:
    """In the caller's transaction: keep the signed answer, audit the call, cache a verified result.
    Returns the evidence id the dossier points at."""
    evidence_id = verification.evidence_id
    if verification.answer is not None:
        evidence_id = await store.insert_evidence(
            conn, services.personal, verification.answer.request_id, verification.answer.signed_xml
        )
    if verification.status != "not_checked":
        await store.record_check(
            conn,
            dossier_id=dossier_id,
            organisation_id=organisation_id,
            officer=verification.officer,
            request_id=verification.request_id or "-",
            outcome=verification.audit_outcome,
            error_code=verification.error_code,
            latency_ms=verification.latency_ms,
        )
    if (
        verification.status == "verified"
        and verification.answer is not None
        and evidence_id is not None
        and verification.cache_key is not None
        and services.settings.identity_cache_seconds > 0
    ):
        until = datetime.now(UTC) + timedelta(seconds=services.settings.identity_cache_seconds)
        await store.remember(conn, verification.cache_key, "verified", evidence_id, until)
    return evidence_id
