"""The retry of a pending identity check, run by the outbox worker until the register answers.

A dossier accepted while the register was away is verified later. Whatever the outcome, its agency
delivery is then released; a mismatch or an unconfirmed partial match is recorded and flagged to the
agency rather than undoing an intake the citizen already has a receipt for.
"""

from datetime import UTC, datetime

import asyncpg
import structlog

from gateway.keys import Services
from gateway.schemas import Applicant
from gateway.store import dossiers, outbox
from gateway.store import identity as identity_store
from gateway.workflow import identity

log = structlog.get_logger(__name__)


def _dossier_status(verification: identity.Verification, applicant: Applicant) -> str:
    if verification.status == "partial":
        return "partial_confirmed" if applicant.name_match_confirmed else "partial"
    return verification.status  # verified or mismatch


async def handle(services: Services, message: asyncpg.Record) -> bool:
    async with services.connection() as conn:
        dossier = await conn.fetchrow(
            "SELECT d.id, d.code, d.identity_status, d.body, d.submitter_org_id, o.unit_code"
            " FROM dossiers d JOIN organisations o ON o.id = d.submitter_org_id WHERE d.id = $1",
            message["dossier_id"],
        )
    if dossier is None or dossier["identity_status"] != "pending":
        return True
    applicant = Applicant.model_validate(dossier["body"]["applicant"])
    officer = identity.officer_of(dossier["submitter_org_id"])
    verification = await identity.verify(services, officer, dossier["unit_code"], applicant)
    if verification.status == "pending":
        async with services.connection() as conn:
            await identity.record(
                services, conn, verification, dossier_id=dossier["id"], organisation_id=dossier["submitter_org_id"]
            )
        return False
    status = _dossier_status(verification, applicant)
    async with services.connection() as conn, conn.transaction():
        current = await dossiers.get_by_code(conn, dossier["code"], for_update=True)
        if current["identity_status"] != "pending":
            return True
        evidence_id = await identity.record(
            services, conn, verification, dossier_id=dossier["id"], organisation_id=dossier["submitter_org_id"]
        )
        await identity_store.set_dossier_identity(conn, dossier["id"], status, evidence_id)
        await dossiers.append_event(
            conn,
            dossier["id"],
            type="identity_verified" if status in ("verified", "partial_confirmed") else "identity_mismatch",
            status_after=current["status"],
            occurred_at=datetime.now(UTC),
            actor_org_id=None,
            data={"identity_status": status},
        )
        await outbox.release_delivery(conn, dossier["id"])
    log.info("identity.retry_done", code=dossier["code"], identity_status=status)
    return True
