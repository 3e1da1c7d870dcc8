"""Verification of the hash-chained timelines: every event's hash must match its content and its
predecessor's hash, so an edited, deleted or reordered event is found."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from gateway.store.dossiers import event_hash


@dataclass(frozen=True)
class BrokenLink:
    dossier_code: str
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"{self.dossier_code}: sự kiện #{self.seq}: {self.reason}"


@dataclass
class ChainReport:
    dossiers: int = 0
    events: int = 0
    broken: list[BrokenLink] | None = None


def _check(code: str, events: list[asyncpg.Record]) -> BrokenLink | None:
    """The first broken link of one dossier's chain, or None."""
    previous: bytes | None = None
    for expected_seq, event in enumerate(events, start=1):
        if event["seq"] != expected_seq:
            return BrokenLink(code, expected_seq, "thiếu sự kiện hoặc sai thứ tự")
        if event["prev_hash"] != previous:
            return BrokenLink(code, event["seq"], "không nối với sự kiện trước (prev_hash khác)")
        data = event["data"] if isinstance(event["data"], dict) else json.loads(event["data"])
        digest = event_hash(
            previous,
            seq=event["seq"],
            type=event["type"],
            status_after=event["status_after"],
            occurred_at=event["occurred_at"],
            actor_org_id=event["actor_org_id"],
            external_id=event["external_id"],
            data=data,
        )
        if digest != event["hash"]:
            return BrokenLink(code, event["seq"], "nội dung đã bị sửa (hash không khớp)")
        previous = event["hash"]
    return None


async def _chains(conn: asyncpg.Connection) -> AsyncIterator[tuple[str, list[asyncpg.Record]]]:
    code, events = None, []
    async with conn.transaction():  # a cursor needs one; REPEATABLE READ would also do
        async for row in conn.cursor(
            "SELECT d.code, e.* FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id"
            " ORDER BY e.dossier_id, e.seq"
        ):
            if row["code"] != code and code is not None:
                yield code, events
                events = []
            code = row["code"]
            events.append(row)
    if code is not None:
        yield code, events


async def verify_chains(conn: asyncpg.Connection) -> ChainReport:
    report = ChainReport(broken=[])
    async for code, events in _chains(conn):
        report.dossiers += 1
        report.events += len(events)
        if (link := _check(code, events)) is not None:
            report.broken.append(link)
    return report
