"""Overdue dossiers: past their appointment, unfinished, clock running. Each gets one `overdue` event per
appointment; the agency then owes a written apology with a new appointment (form 04, the `apology` event)."""

import asyncio
import contextlib
from datetime import UTC, datetime

import asyncpg
import structlog

from gateway.keys import Services
from gateway.store import dossiers
from mapping.calendar import VN_TZ

log = structlog.get_logger(__name__)


async def scan_overdue(services: Services, conn: asyncpg.Connection, now: datetime | None = None) -> int:
    """Raise an `overdue` event (status unchanged) on every dossier that became overdue and has none for its
    current appointment (the event records it); return how many. Safe to run from several processes at once:
    rows another scan holds are skipped, and a dossier it has just marked no longer matches."""
    now = now or datetime.now(UTC)
    async with conn.transaction():
        found = await dossiers.lock_overdue(conn, now)
        for dossier in found:
            await dossiers.append_event(
                conn,
                dossier["id"],
                type="overdue",
                status_after=dossier["status"],
                occurred_at=now,
                actor_org_id=None,
                data={"appointment_at": dossier["appointment_at"].astimezone(VN_TZ).isoformat()},
            )
    return len(found)


async def scan_forever(services: Services, stop: asyncio.Event) -> None:
    """Run the scan every `MOTCUA_OVERDUE_SCAN_SECONDS` beside the outbox worker, until stopped."""
    while not stop.is_set():
        try:
            async with services.connection() as conn:
                marked = await scan_overdue(services, conn)
            if marked:
                log.info("overdue.marked", dossiers=marked)
        except Exception:  # database away: the next round tries again
            log.warning("overdue.scan_failed", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), services.settings.overdue_scan_seconds)
