"""Reconciliation with the National Public Service Portal: what it holds of a period's dossiers against ours.

For every dossier received in the period it asks the portal (TraCuuHoSo by codes, in batches) and lists
each difference: not held at all, held with another status, or with fewer progress rows than our timeline
has events. Those are behind: their sync cursor goes back to what the portal is known to hold and a sync is
queued, so the worker sends what is missing (the portal keeps a progress row it already holds once). The
portal's own list for the period (TraCuuHoSo by dates) shows dossiers it holds that we do not: listed, never
touched.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import asyncpg

from adapters.dvcqg.client import PortalClient
from adapters.dvcqg.messages import PortalDossier
from gateway.store import dossiers
from gateway.workflow.lifecycle import STATUSES
from mapping.calendar import VN_TZ

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class Difference:
    code: str
    kind: str  # missing | status | progress | unknown_here
    ours: str
    portal: str

    def line(self) -> str:
        return f"{self.code}  {self.kind:<12} ours: {self.ours:<28} portal: {self.portal}"


@dataclass(frozen=True)
class Reconciliation:
    dossiers: int
    held: int
    differences: list[Difference]
    requeued: int

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for difference in self.differences:
            counts[difference.kind] = counts.get(difference.kind, 0) + 1
        return counts


def period(first: date, last: date) -> tuple[datetime, datetime]:
    """[first day 00:00, the day after the last 00:00) in Vietnam time."""
    return datetime.combine(first, time(), VN_TZ), datetime.combine(last + timedelta(days=1), time(), VN_TZ)


def _compare(row: asyncpg.Record, held: PortalDossier | None) -> Difference | None:
    status = STATUSES[row["status"]].dvcqg
    if held is None:
        return Difference(row["code"], "missing", f"status {status}, {row['events']} events", "-")
    if held.status != status:
        return Difference(row["code"], "status", f"status {status}", f"status {held.status}")
    if held.progress_count < row["events"]:
        return Difference(row["code"], "progress", f"{row['events']} events", f"{held.progress_count} rows")
    return None


async def reconcile(
    conn: asyncpg.Connection,
    client: PortalClient,
    first: date,
    last: date,
    *,
    batch_size: int,
    requeue: bool = True,
    progress: Progress | None = None,
) -> Reconciliation:
    start, end = period(first, last)
    ours = await conn.fetch(
        "SELECT d.id, d.code, d.status, (SELECT count(*) FROM dossier_events e WHERE e.dossier_id = d.id) AS events"
        " FROM dossiers d WHERE d.received_at >= $1 AND d.received_at < $2 ORDER BY d.received_at, d.id",
        start,
        end,
    )
    held: dict[str, PortalDossier] = {}
    for done in range(0, len(ours), batch_size):
        batch = ours[done : done + batch_size]
        held |= {dossier.code: dossier for dossier in await client.lookup([row["code"] for row in batch])}
        if progress:
            progress(done + len(batch), len(ours))
    differences = [d for row in ours if (d := _compare(row, held.get(row["code"]))) is not None]
    known = {row["code"] for row in ours}
    for dossier in await client.lookup(received_from=start, received_to=end):
        if dossier.code not in known:
            differences.append(Difference(dossier.code, "unknown_here", "-", f"status {dossier.status}"))
    requeued = 0
    if requeue:
        behind = {d.code for d in differences if d.kind != "unknown_here"}
        for row in ours:
            if row["code"] in behind:
                await _requeue(conn, row["id"], held.get(row["code"]))
                requeued += 1
    return Reconciliation(len(ours), len(held), differences, requeued)


async def _requeue(conn: asyncpg.Connection, dossier_id: int, held: PortalDossier | None) -> None:
    """Back to what the portal is known to hold (nothing, if it lost the dossier; else its rows may be any of
    ours, so all are sent again), and a sync queued."""
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO dvcqg_sync (dossier_id, created, synced_seq, synced_status) VALUES ($1, $2, 0, NULL)"
            " ON CONFLICT (dossier_id) DO UPDATE SET created = EXCLUDED.created, synced_seq = 0, synced_status = NULL",
            dossier_id,
            held is not None,
        )
        await dossiers.queue_portal_sync(conn, dossier_id)
