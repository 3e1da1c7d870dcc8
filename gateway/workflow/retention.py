"""Retention of document files: those of dossiers finished longer ago than the retention period are removed
from the content store; their hashes, sizes, names and links stay in PostgreSQL as evidence (downloads then
answer 410 `document.purged`). Files the database does not know (an upload whose transaction failed after
placing its bytes) are removed once they are a day old.

A purge holds the `contents` rows it removes until it commits: an upload linking the same content meanwhile
waits, then stores the bytes again.
"""

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.content import ContentStore
from gateway.store import documents

ORPHAN_GRACE_SECONDS = 86_400.0


@dataclass(frozen=True)
class PurgeReport:
    files: int
    bytes: int
    dossiers: int
    orphans: int
    applied: bool


async def purge(conn: asyncpg.Connection, store: ContentStore, closed_before: datetime, *, apply: bool) -> PurgeReport:
    """What a purge removes (dry run) or removes it (`apply`)."""
    async with conn.transaction():
        rows = await documents.lock_purgeable(conn, closed_before)
        dossiers = await conn.fetchval(
            "SELECT count(DISTINCT dossier_id) FROM dossier_documents WHERE sha256 = ANY($1::text[])",
            [row["sha256"] for row in rows],
        )
        if apply and rows:
            await documents.mark_purged(conn, [row["sha256"] for row in rows])
            for row in rows:
                await store.delete(row["sha256"])
    stored = [sha256 async for sha256 in store.stored(ORPHAN_GRACE_SECONDS)]
    known = await documents.known(conn, stored)
    orphans = [sha256 for sha256 in stored if sha256 not in known]
    if apply:
        for sha256 in orphans:
            await store.delete(sha256)
    return PurgeReport(len(rows), sum(row["size"] for row in rows), dossiers, len(orphans), apply)
