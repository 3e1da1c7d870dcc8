"""Document contents (one row per SHA-256) and their links to dossiers; downloads; retention."""

from datetime import datetime
from typing import Any

import asyncpg

# A dossier in one of these statuses takes no more component uploads, and counts toward retention.
CLOSED = ("returned", "withdrawn", "stopped", "refused")

_LINKED = (
    "SELECT l.*, c.size, c.media_type, c.purged_at FROM dossier_documents l JOIN contents c ON c.sha256 = l.sha256"
)


async def claim_content(conn: asyncpg.Connection, sha256: str, size: int, media_type: str) -> None:
    """Record the content (again, if it was purged) and hold its row lock until the caller's transaction ends,
    so that a purge cannot remove the bytes being placed under it."""
    await conn.execute(
        "INSERT INTO contents (sha256, size, media_type) VALUES ($1, $2, $3)"
        " ON CONFLICT (sha256) DO UPDATE SET purged_at = NULL",
        sha256,
        size,
        media_type,
    )


async def link(
    conn: asyncpg.Connection,
    dossier_id: int,
    *,
    kind: str,
    sha256: str,
    name: str,
    uploaded_by: int,
    event_seq: int,
    component_code: str | None = None,
    step_order: int | None = None,
    agency_code: str | None = None,
) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO dossier_documents (dossier_id, kind, component_code, step_order, agency_code, name, sha256,"
        " uploaded_by, event_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
        dossier_id,
        kind,
        component_code,
        step_order,
        agency_code,
        name,
        sha256,
        uploaded_by,
        event_seq,
    )


async def find(
    conn: asyncpg.Connection, dossier_id: int, sha256: str, kind: str | None = None
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"{_LINKED} WHERE l.dossier_id = $1 AND l.sha256 = $2 AND ($3::text IS NULL OR l.kind = $3)"
        " ORDER BY l.kind LIMIT 1",
        dossier_id,
        sha256,
        kind,
    )


async def list_for(conn: asyncpg.Connection, dossier_id: int, kind: str | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"{_LINKED} WHERE l.dossier_id = $1 AND ($2::text IS NULL OR l.kind = $2) ORDER BY l.id", dossier_id, kind
    )


async def list_for_many(conn: asyncpg.Connection, dossier_ids: list[int]) -> dict[int, list[asyncpg.Record]]:
    """The documents of several dossiers at once, by dossier, each list in the order `list_for` gives."""
    linked: dict[int, list[asyncpg.Record]] = {dossier_id: [] for dossier_id in dossier_ids}
    for row in await conn.fetch(f"{_LINKED} WHERE l.dossier_id = ANY($1::bigint[]) ORDER BY l.id", dossier_ids):
        linked[row["dossier_id"]].append(row)
    return linked


async def record_download(
    conn: asyncpg.Connection, document_id: int, organisation_id: int | None, start: int, end: int
) -> None:
    await conn.execute(
        "INSERT INTO document_downloads (document_id, organisation_id, range_start, range_end) VALUES ($1, $2, $3, $4)",
        document_id,
        organisation_id,
        start,
        end,
    )


async def lock_purgeable(conn: asyncpg.Connection, closed_before: datetime) -> list[asyncpg.Record]:
    """Contents still stored whose every dossier closed before `closed_before`, locked until the transaction
    ends (an upload re-linking one waits, then stores it again)."""
    return await conn.fetch(
        "SELECT c.sha256, c.size FROM contents c"
        " WHERE c.purged_at IS NULL"
        " AND EXISTS (SELECT 1 FROM dossier_documents l WHERE l.sha256 = c.sha256)"
        " AND NOT EXISTS ("
        "   SELECT 1 FROM dossier_documents l2 JOIN dossiers d ON d.id = l2.dossier_id"
        "   WHERE l2.sha256 = c.sha256 AND NOT (d.status = ANY($2::text[]) AND d.updated_at < $1))"
        " ORDER BY c.sha256 FOR UPDATE OF c",
        closed_before,
        list(CLOSED),
    )


async def mark_purged(conn: asyncpg.Connection, sha256s: list[str]) -> None:
    await conn.execute("UPDATE contents SET purged_at = now() WHERE sha256 = ANY($1::text[])", sha256s)


async def known(conn: asyncpg.Connection, sha256s: list[str]) -> set[str]:
    """Which of these hashes the database records with their bytes still stored."""
    rows = await conn.fetch("SELECT sha256 FROM contents WHERE sha256 = ANY($1::text[]) AND purged_at IS NULL", sha256s)
    return {row["sha256"] for row in rows}


def download_path(code: str, sha256: str) -> str:
    """Where an authorised client downloads a dossier's document (relative to the gateway's base URL)."""
    return f"/v1/dossiers/{code}/documents/{sha256}"


def view(row: asyncpg.Record, href: str | None) -> dict[str, Any]:
    """A linked document as answers and deliveries show it (`href` None once its bytes are purged)."""
    shown: dict[str, Any] = {
        "kind": row["kind"],
        "name": row["name"],
        "sha256": row["sha256"],
        "size": row["size"],
        "media_type": row["media_type"],
        "uploaded_at": row["uploaded_at"],
        "href": None if row["purged_at"] else href,
        "purged_at": row["purged_at"],
    }
    if row["kind"] == "component":
        shown["component_code"] = row["component_code"]
    else:
        shown["step"] = {"order": row["step_order"], "agency": row["agency_code"]}
    return shown
