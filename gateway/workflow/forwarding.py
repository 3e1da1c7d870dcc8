"""The moment a dossier reaches its agency, whichever way it went (pull ack or push answer)."""

from datetime import datetime

import asyncpg

from gateway.store import dossiers


async def record_forwarded(
    conn: asyncpg.Connection, code: str, *, at: datetime, actor_org_id: int | None, mode: str, message_id: str
) -> None:
    """Append `forwarded` in the caller's transaction, unless the agency already reported progress."""
    dossier = await dossiers.get_by_code(conn, code, for_update=True)
    if dossier["status"] == "received":
        await dossiers.append_event(
            conn,
            dossier["id"],
            type="forwarded",
            status_after="forwarded",
            occurred_at=at,
            actor_org_id=actor_org_id,
            data={"message_id": message_id, "mode": mode},
        )
