"""Sync to the National Public Service Portal (DVCQG): every dossier and every step of its timeline.

Every event appended to a dossier queues a `dvcqg.sync_dossier` message (gateway/store/dossiers.py); its
handler brings the portal up to date from where `dvcqg_sync` says it is: the dossier itself (created, or
sent again as an update when the portal already has it: an earlier attempt may have gone through without
our hearing of it), then the events after the last one it holds, as progress rows, in order. The worker
hands over up to MOTCUA_DVCQG_BATCH_SIZE messages of different dossiers at once (`sync_batch`), so their
dossiers and rows go in as few calls as the portal takes; one dossier's messages are handled one after the
other, so the portal sees its changes in the order they happened. Our dossier code is the portal's MaHoSo
and never changes.

A retried call can only repeat what the portal holds already: dossiers go by upsert, progress rows from our
cursor, which moves only after the portal accepted them (an identical row sent again is kept once there).
"""

from dataclasses import dataclass
from datetime import datetime

import asyncpg
import structlog

from adapters.dvcqg.client import PortalClient
from adapters.dvcqg.messages import (
    NOT_FOUND,
    BatchOutcome,
    Document,
    DossierRecord,
    Fee,
    ProgressRow,
    ResultDocument,
)
from adapters.dvcqg.settings import PortalConfig
from gateway.keys import Services
from gateway.settings import Settings
from gateway.store import documents
from gateway.store.documents import download_path
from gateway.workflow.documents import procedure_of
from gateway.workflow.lifecycle import STATUSES, TRANSITIONS

log = structlog.get_logger(__name__)
PROGRESS_PER_MESSAGE = 500  # a dossier's timeline is far shorter; a longer backlog goes over several messages
SYSTEM_OFFICER = "Hệ thống một cửa"  # events the gateway itself records (intake, forwarding, post)


def portal_config(settings: Settings) -> PortalConfig | None:
    if not settings.dvcqg_url:
        return None
    return PortalConfig(
        url=settings.dvcqg_url,
        username=settings.dvcqg_username,
        password=settings.dvcqg_password.get_secret_value(),
        unit_code=settings.dvcqg_unit_code,
        timeout_seconds=settings.dvcqg_timeout_seconds,
        batch_size=settings.dvcqg_batch_size,
    )


class PortalRefused(Exception):
    """The portal refused a record for a reason sending it again will not fix (a missing field, a status move it
    does not allow): the message is retried until the dead letter, where operators see the portal's words."""


def _url(services: Services, path: str) -> str:
    base = (services.settings.public_url or "").rstrip("/")
    return f"{base}{path}"


def dossier_record(
    services: Services, dossier: asyncpg.Record, linked: list[asyncpg.Record], returned_at: datetime | None
) -> DossierRecord:
    """What the portal holds of a dossier, from the dossier as stored and its documents."""
    body, receipt = dossier["body"], dossier["receipt"]
    procedure = procedure_of(services, dossier)
    code = dossier["code"]

    def link(row: asyncpg.Record) -> str:
        return _url(services, download_path(code, row["sha256"]))

    return DossierRecord(
        code=code,
        procedure_code=procedure.code,
        procedure_name=procedure.name,
        sector_code=procedure.sector,  # our catalog names sectors; the portal's sector codes are not in it
        channel=dossier["channel"],
        owner_name=body["applicant"]["full_name"],
        owner_id_number=body["applicant"]["id_number"],
        received_at=dossier["received_at"],
        appointment_at=dossier["appointment_at"],
        status=STATUSES[dossier["status"]].dvcqg,
        returned_at=returned_at,
        return_method=body["return_method"]["type"],
        handling_unit=dossier["agency_code"],
        documents=tuple(
            Document(name=row["name"], sha256=row["sha256"], url=link(row), component_code=row["component_code"] or "")
            for row in linked
            if row["kind"] == "component"
        ),
        fees=tuple(Fee(name=fee["name"], amount=int(fee["amount"])) for fee in receipt["fees"]["due"]),
        results=tuple(
            ResultDocument(name=row["name"], sha256=row["sha256"], url=link(row))
            for row in linked
            if row["kind"] == "result"
        ),
    )


def progress_row(dossier: asyncpg.Record, event: asyncpg.Record, officers: dict[int, str]) -> ProgressRow:
    """One timeline event as a progress row: who (the agency's officer, or the organisation that reported it),
    what (the event's Vietnamese label and reason), and the status it left the dossier in."""
    data = event["data"] or {}
    transition = TRANSITIONS.get(event["type"])
    content = transition.label if transition else event["type"]
    if reason := data.get("reason"):
        content = f"{content}: {reason}"
    officer = data.get("officer") or officers.get(event["actor_org_id"]) or SYSTEM_OFFICER
    return ProgressRow(
        code=dossier["code"],
        officer=officer,
        at=event["occurred_at"],
        content=content,
        status=STATUSES[event["status_after"]].dvcqg,
        started_at=dossier["received_at"],
        due_at=dossier["appointment_at"],
    )


@dataclass(frozen=True)
class Backlog:
    dossier: asyncpg.Record
    state: asyncpg.Record | None
    events: list[asyncpg.Record]
    record: DossierRecord
    rows: list[ProgressRow]


async def _backlogs(services: Services, conn: asyncpg.Connection, dossier_ids: list[int]) -> dict[int, Backlog]:
    """What the portal lacks of each dossier, read for the whole batch in a handful of queries (not per dossier)."""
    dossiers = {row["id"]: row for row in await conn.fetch("SELECT * FROM dossiers WHERE id = ANY($1)", dossier_ids)}
    states = {
        row["dossier_id"]: row
        for row in await conn.fetch("SELECT * FROM dvcqg_sync WHERE dossier_id = ANY($1)", dossier_ids)
    }
    events: dict[int, list[asyncpg.Record]] = {dossier_id: [] for dossier_id in dossier_ids}
    for event in await conn.fetch(
        "SELECT * FROM (SELECT e.*, row_number() OVER (PARTITION BY e.dossier_id ORDER BY e.seq) AS position"
        "  FROM dossier_events e LEFT JOIN dvcqg_sync s ON s.dossier_id = e.dossier_id"
        "  WHERE e.dossier_id = ANY($1) AND e.seq > COALESCE(s.synced_seq, 0)) after_cursor"
        " WHERE position <= $2 ORDER BY dossier_id, seq",
        dossier_ids,
        PROGRESS_PER_MESSAGE,
    ):
        events[event["dossier_id"]].append(event)
    actors = list({e["actor_org_id"] for rows in events.values() for e in rows if e["actor_org_id"] is not None})
    officers = {
        row["id"]: row["name"]
        for row in await conn.fetch("SELECT id, name FROM organisations WHERE id = ANY($1::bigint[])", actors)
    }
    returned = {
        row["dossier_id"]: row["at"]
        for row in await conn.fetch(
            "SELECT dossier_id, max(occurred_at) AS at FROM dossier_events"
            " WHERE dossier_id = ANY($1) AND type = 'returned' GROUP BY dossier_id",
            dossier_ids,
        )
    }
    linked = await documents.list_for_many(conn, dossier_ids)
    backlogs = {}
    for dossier_id in dossier_ids:
        dossier, rows = dossiers[dossier_id], events[dossier_id]
        record = dossier_record(services, dossier, linked[dossier_id], returned.get(dossier_id))
        progress = [progress_row(dossier, event, officers) for event in rows]
        backlogs[dossier_id] = Backlog(dossier, states.get(dossier_id), rows, record, progress)
    return backlogs


async def sync_dossier(services: Services, message: asyncpg.Record) -> bool:
    """Outbox handler for one message: the portal holds the dossier as it is now and every event up to now."""
    problem = (await sync_batch(services, [message]))[message["id"]]
    if problem is not None:
        raise PortalRefused(problem)
    return True


async def sync_batch(services: Services, messages: list[asyncpg.Record]) -> dict[int, str | None]:
    """Batch handler (one message per dossier, as the worker claims them): the dossiers in as few portal calls
    as it takes (updates together, creates together), then all their new progress rows together, each dossier's
    in order. Per message: None when the portal has everything, else the portal's words. A transport failure
    raises and fails them all; the portal refusing one record fails only its dossier."""
    client: PortalClient = services.portal
    async with services.connection() as conn:
        read = await _backlogs(services, conn, [message["dossier_id"] for message in messages])
    backlogs = {message["id"]: read[message["dossier_id"]] for message in messages}
    by_code = {backlog.record.code: message_id for message_id, backlog in backlogs.items()}
    refused: dict[int, str] = {}

    def note(outcome: BatchOutcome) -> None:
        for each in outcome.rejected:
            message_id = by_code[each.code]
            refused[message_id] = refused.get(message_id, "") + f"{each.code}: {each.error_code} {each.message}; "

    stale = [b for b in backlogs.values() if b.events or not _current(b)]
    known = [b.record for b in stale if b.state is not None and b.state["created"]]
    new = [b.record for b in stale if b.state is None or not b.state["created"]]
    if known:
        updated = await client.sync_dossiers(known, updating=True)
        lost = {each.code for each in updated.outcomes if each.error_code == NOT_FOUND}  # create them again
        note(BatchOutcome(tuple(each for each in updated.outcomes if each.code not in lost)))
        new += [record for record in known if record.code in lost]
    if new:
        note(await client.upsert_dossiers(new))
    rows = [row for b in backlogs.values() if by_code[b.record.code] not in refused for row in b.rows]
    if rows:
        note(await client.update_progress(rows))

    async with services.connection() as conn:
        for message_id, backlog in backlogs.items():
            if message_id in refused:
                await _record_error(conn, backlog.dossier["id"], refused[message_id])
        await _advance(conn, [b for message_id, b in backlogs.items() if message_id not in refused])
    results: dict[int, str | None] = {}
    for message_id, backlog in backlogs.items():
        results[message_id] = refused[message_id][:500] if message_id in refused else None
        if message_id not in refused and len(backlog.events) == PROGRESS_PER_MESSAGE:
            # A long backlog (first sync after an outage): the rest, one step's worth at a time.
            results |= await sync_batch(services, [m for m in messages if m["id"] == message_id])
    log.info("dvcqg.synced", dossiers=len(messages), refused=len(refused), progress_rows=len(rows))
    return results


def _current(backlog: Backlog) -> bool:
    """The portal has the dossier with its present status (appointment changes come with an event)."""
    state = backlog.state
    return state is not None and state["created"] and state["synced_status"] == backlog.record.status


def _last_seq(backlog: Backlog) -> int:
    synced = backlog.state
    return backlog.events[-1]["seq"] if backlog.events else (synced["synced_seq"] if synced else 0)


async def _advance(conn: asyncpg.Connection, accepted: list[Backlog]) -> None:
    """The cursors after what the portal accepted (never backwards: a slower earlier attempt may finish late)."""
    await conn.executemany(
        "INSERT INTO dvcqg_sync (dossier_id, created, synced_seq, synced_status, synced_at, last_error)"
        " VALUES ($1, true, $2, $3, now(), NULL)"
        " ON CONFLICT (dossier_id) DO UPDATE SET created = true,"
        "  synced_seq = GREATEST(dvcqg_sync.synced_seq, EXCLUDED.synced_seq),"
        "  synced_status = EXCLUDED.synced_status, synced_at = now(), last_error = NULL",
        [(b.dossier["id"], _last_seq(b), b.record.status) for b in accepted],
    )


async def _record_error(conn: asyncpg.Connection, dossier_id: int, problem: str) -> None:
    """The portal's words, for operators (the message also keeps them as its last error)."""
    await conn.execute(
        "INSERT INTO dvcqg_sync (dossier_id, last_error) VALUES ($1, $2)"
        " ON CONFLICT (dossier_id) DO UPDATE SET last_error = EXCLUDED.last_error",
        dossier_id,
        problem[:500],
    )
