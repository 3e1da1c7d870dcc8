"""Document uploads: the stream is verified against what was declared (SHA-256, media type by content, size),
then placed in the content store and recorded in the dossier's timeline in one transaction; completeness of
the required components decides when a dossier is forwarded.

An upload that fails any check leaves nothing: its temporary data is discarded by the content store, and
nothing is written to the database. Content is placed while the transaction holds its `contents` row, so a
purge cannot remove the bytes a new link is being made to.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from gateway.content import ContentTooLarge, Incoming, media_type_of
from gateway.errors import Conflict, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from gateway.keys import Services
from gateway.store import documents, dossiers
from gateway.store import steps as step_store
from gateway.workflow import steps
from mapping import Procedure
from mapping.calendar import VN_TZ

UPLOAD_CHUNK = 64 << 10


@dataclass(frozen=True)
class Upload:
    """A verified upload, not yet placed."""

    incoming: Incoming
    media_type: str

    @property
    def sha256(self) -> str:
        return self.incoming.sha256

    @property
    def size(self) -> int:
        return self.incoming.size


def _field_error(code: str, field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "type": code, "message": message}]


@contextlib.asynccontextmanager
async def receive(
    services: Services, chunks: AsyncIterator[bytes], sha256: str, declared_media_type: str | None
) -> AsyncIterator[Upload]:
    """Stream `chunks` into the content store's temporary area and check them; yields the verified upload
    (place it inside a transaction with `record_*`), or raises the problem that describes the failure."""
    limit = services.settings.document_max_bytes
    async with services.content.receive(limit) as incoming:
        try:
            async for chunk in chunks:
                await incoming.write(chunk)
        except ContentTooLarge as exc:
            raise PayloadTooLarge(
                f"Tệp vượt quá giới hạn {limit} byte cho một giấy tờ.", code="document.too_large"
            ) from exc
        await incoming.finish()
        if incoming.size == 0:
            raise Unprocessable("Tệp tải lên rỗng.", code="document.empty")
        if incoming.sha256 != sha256:
            raise Unprocessable(
                "Mã băm SHA-256 của tệp nhận được không khớp với mã băm đã khai; tệp không được lưu.",
                code="document.digest_mismatch",
                errors=_field_error("document.digest_mismatch", "sha256", f"Mã băm của tệp là {incoming.sha256}."),
            )
        media_type = media_type_of(incoming.head)
        if media_type is None:
            raise UnsupportedMediaType(
                "Nội dung tệp không phải PDF, JPEG hoặc PNG (kiểm tra theo nội dung, không theo tên tệp).",
                code="document.media_type_unsupported",
            )
        if declared_media_type is not None and declared_media_type != media_type:
            raise Unprocessable(
                f"Tệp khai là {declared_media_type} nhưng nội dung là {media_type}.",
                code="document.media_type_mismatch",
                errors=_field_error("document.media_type_mismatch", "media_type", f"Nội dung là {media_type}."),
            )
        yield Upload(incoming, media_type)


def procedure_of(services: Services, dossier: asyncpg.Record) -> Procedure:
    return services.catalog.procedure(dossier["procedure_code"], dossier["received_at"].astimezone(VN_TZ).date())


def missing(procedure: Procedure, present: set[str]) -> list[dict[str, str]]:
    """Required components whose content has not arrived."""
    return [{"code": c.code, "name": c.name} for c in procedure.components if c.required and c.code not in present]


async def declarations(conn: asyncpg.Connection, dossier: asyncpg.Record, sha256: str) -> list[dict[str, Any]]:
    """How the intake, and later supplements, declared this content (component code, name, media type): one
    scan may be declared as several components."""
    found = [doc for doc in dossier["body"]["documents"] if doc["sha256"] == sha256]
    supplements = await conn.fetch(
        "SELECT data FROM dossier_events WHERE dossier_id = $1 AND type = 'supplement_received' ORDER BY seq",
        dossier["id"],
    )
    for event in supplements:
        found += [doc for doc in event["data"].get("documents", []) if doc["sha256"] == sha256]
    unique = {(doc["component_code"], doc["name"]): doc for doc in found}
    return list(unique.values())


def _closed(dossier: asyncpg.Record) -> Conflict:
    return Conflict(
        "Hồ sơ đã kết thúc; không nhận thêm giấy tờ.",
        code="document.dossier_closed",
        extra={"status": dossier["status"]},
    )


async def record_components(
    services: Services,
    conn: asyncpg.Connection,
    dossier_id: int,
    upload: Upload,
    components: list[tuple[str, str]],
    *,
    uploaded_by: int,
) -> tuple[list[asyncpg.Record], list[dict[str, str]], bool]:
    """In one transaction: store the content, link it to the dossier as each of `components` (code, name) not
    linked yet, record each arrival in the timeline, and once the required components are all present, forward
    the dossier. Returns the links, the required components still missing, and whether anything was new
    (False: the same file again)."""
    async with conn.transaction():
        dossier = await conn.fetchrow("SELECT * FROM dossiers WHERE id = $1 FOR UPDATE", dossier_id)
        if dossier["status"] in documents.CLOSED:
            raise _closed(dossier)
        procedure = procedure_of(services, dossier)
        linked = await documents.list_for(conn, dossier_id, "component")
        already = {(row["sha256"], row["component_code"]) for row in linked}
        new = [(code, name) for code, name in components if (upload.sha256, code) not in already]
        if new:
            limit = services.settings.dossier_documents_max_bytes
            stored = sum(row["size"] for row in {row["sha256"]: row for row in linked}.values())
            if not any(row["sha256"] == upload.sha256 for row in linked) and stored + upload.size > limit:
                raise PayloadTooLarge(
                    f"Tổng dung lượng giấy tờ của hồ sơ vượt quá giới hạn {limit} byte.",
                    code="document.dossier_too_large",
                )
            await documents.claim_content(conn, upload.sha256, upload.size, upload.media_type)
            await upload.incoming.place()
        present = {row["component_code"] for row in linked}
        for code, name in new:
            present.add(code)
            event = await dossiers.append_event(
                conn,
                dossier_id,
                type="document_received",
                status_after=dossier["status"],
                occurred_at=datetime.now(VN_TZ),
                actor_org_id=uploaded_by,
                data={
                    "component_code": code,
                    "name": name,
                    "sha256": upload.sha256,
                    "size": upload.size,
                    "media_type": upload.media_type,
                    "missing_components": missing(procedure, present),
                },
            )
            await documents.link(
                conn,
                dossier_id,
                kind="component",
                sha256=upload.sha256,
                name=name,
                uploaded_by=uploaded_by,
                event_seq=event["seq"],
                component_code=code,
            )
        still_missing = missing(procedure, present)
        if new and not still_missing:
            await forward_when_complete(services, conn, dossier)
        rows = [
            row
            for row in await documents.list_for(conn, dossier_id, "component")
            if row["sha256"] == upload.sha256 and row["component_code"] in {code for code, _ in components}
        ]
    return rows, still_missing, bool(new)


async def forward_when_complete(services: Services, conn: asyncpg.Connection, dossier: asyncpg.Record) -> None:
    """The dossier has every required component: deliver its first step(s), unless already delivered. A
    delivery still waits for a pending identity check, up to its limit, as at intake."""
    now = datetime.now(VN_TZ)
    deliver_at = None
    if dossier["identity_status"] == "pending":
        limit = dossier["received_at"] + timedelta(seconds=services.settings.identity_wait_limit_seconds)
        deliver_at = limit if limit > now else None
    await steps.start_first(conn, dossier["id"], now, deliver_at)


async def record_result(
    conn: asyncpg.Connection, dossier_id: int, step: asyncpg.Record, upload: Upload, *, name: str, uploaded_by: int
) -> asyncpg.Record:
    """A step's agency adds a result document, before it reports `result_ready` (whose event lists them)."""
    async with conn.transaction():
        dossier = await conn.fetchrow("SELECT * FROM dossiers WHERE id = $1 FOR UPDATE", dossier_id)
        current = await step_store.get(conn, dossier_id, step["step_order"], step["agency_code"])
        if current["status"] in step_store.FINISHED or current["status"] == "waiting":
            raise Conflict(
                "Chỉ tải lên văn bản kết quả khi bước của cơ quan đang được giải quyết.",
                code="document.step_closed",
                extra={"step_status": current["status"]},
            )
        existing = await documents.find(conn, dossier_id, upload.sha256, "result")
        if existing is not None:
            return existing
        await documents.claim_content(conn, upload.sha256, upload.size, upload.media_type)
        await upload.incoming.place()
        event = await dossiers.append_event(
            conn,
            dossier_id,
            type="result_uploaded",
            status_after=dossier["status"],
            occurred_at=datetime.now(VN_TZ),
            actor_org_id=uploaded_by,
            data={
                "step": steps.describe(current),
                "name": name,
                "sha256": upload.sha256,
                "size": upload.size,
                "media_type": upload.media_type,
            },
        )
        row = await documents.link(
            conn,
            dossier_id,
            kind="result",
            sha256=upload.sha256,
            name=name,
            uploaded_by=uploaded_by,
            event_seq=event["seq"],
            step_order=current["step_order"],
            agency_code=current["agency_code"],
        )
    return await documents.find(conn, dossier_id, row["sha256"], "result")


async def step_results(conn: asyncpg.Connection, dossier_id: int, step: asyncpg.Record) -> list[dict[str, Any]]:
    """A step's result documents, as its `result_ready` event and the next steps' deliveries list them."""
    return [
        {"name": row["name"], "sha256": row["sha256"], "size": row["size"], "media_type": row["media_type"]}
        for row in await documents.list_for(conn, dossier_id, "result")
        if (row["step_order"], row["agency_code"]) == (step["step_order"], step["agency_code"])
    ]
