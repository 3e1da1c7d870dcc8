"""The moment a dossier reaches an agency, whichever way it went (pull ack or push answer)."""

from datetime import datetime

import asyncpg

from gateway.store import dossiers
from gateway.workflow import steps


async def record_forwarded(
    conn: asyncpg.Connection, code: str, *, at: datetime, actor_org_id: int | None, mode: str, message_id: str
) -> None:
    """Append `forwarded` in the caller's transaction for the step this delivery started, unless its agency
    already reported progress on it or the dossier ended meanwhile."""
    dossier = await dossiers.get_by_code(conn, code, for_update=True)
    step, status, composite = await steps.forwarded(conn, dossier, message_id, at)
    if step is None:
        return
    data = {"message_id": message_id, "mode": mode} | ({"step": steps.describe(step)} if composite else {})
    await dossiers.append_event(
        conn, dossier["id"], type="forwarded", status_after=status, occurred_at=at, actor_org_id=actor_org_id, data=data
    )
