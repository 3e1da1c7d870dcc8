"""Bring every stored personal value under the current personal-data key (gateway/personal.py).

Run after a rotation (the new key listed first, the old one still listed) and once after upgrading a database
whose rows predate encryption at rest: values in clear are sealed, values under another key are sealed again,
and dossiers whose look-up hash is missing or stale (the server secret changed) get it recomputed. Rows are
read as stored (the connection given here has no codec) and rewritten only when something in them is stale, in
batches of one transaction each, so the command can be stopped and run again at any point. The timeline's
hash chain is unaffected: it is computed over the opened values.
"""

from dataclasses import dataclass, field

import asyncpg

from gateway.personal import PersonalData
from gateway.store.identity import EVIDENCE_PURPOSE

BATCH = 500
# (table, the columns naming a row in order, its JSON columns): every jsonb column of the schema.
JSON_COLUMNS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("dossiers", ("id",), ("body", "routing", "receipt")),
    ("dossier_events", ("id",), ("data",)),
    ("outbox", ("id",), ("payload", "receipt")),
    ("dossier_steps", ("dossier_id", "step_order", "agency_code"), ("result",)),
)


@dataclass
class ResealReport:
    applied: bool
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows rewritten (or to rewrite)
    lookups: int = 0  # dossiers given their applicant look-up hash (missing or stale)
    evidence: int = 0  # signed identity answers sealed again

    @property
    def total(self) -> int:
        return sum(self.rows.values()) + self.lookups + self.evidence


async def reseal(conn: asyncpg.Connection, personal: PersonalData, *, apply: bool) -> ResealReport:
    report = ResealReport(applied=apply)
    for table, key, columns in JSON_COLUMNS:
        report.rows[table] = await _json_rows(conn, personal, table, key, columns, apply)
    report.lookups = await _lookups(conn, personal, apply)
    report.evidence = await _evidence(conn, personal, apply)
    return report


async def _json_rows(
    conn: asyncpg.Connection,
    personal: PersonalData,
    table: str,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    apply: bool,
) -> int:
    names = ", ".join(key)
    texts = ", ".join(f"{column}::text AS {column}" for column in columns)
    after_key = " AND ".join(f"{name} = ${i + 1}" for i, name in enumerate(key))
    changed, after = 0, None
    while True:
        async with conn.transaction():
            where = "" if after is None else f"WHERE ({names}) > ({', '.join(f'${i + 1}' for i in range(len(key)))})"
            rows = await conn.fetch(
                f"SELECT {names}, {texts} FROM {table} {where} ORDER BY {names} LIMIT {BATCH} FOR UPDATE",
                *(after or ()),
            )
            for row in rows:
                stale = [column for column in columns if row[column] is not None and personal.stale(row[column])]
                if not stale:
                    continue
                changed += 1
                if apply:
                    values = [personal.dumps(personal.loads(row[column])) for column in stale]
                    assignments = ", ".join(f"{column} = ${len(key) + i + 1}::jsonb" for i, column in enumerate(stale))
                    await conn.execute(
                        f"UPDATE {table} SET {assignments} WHERE {after_key}", *(row[name] for name in key), *values
                    )
        if len(rows) < BATCH:
            return changed
        after = tuple(rows[-1][name] for name in key)


async def _lookups(conn: asyncpg.Connection, personal: PersonalData, apply: bool) -> int:
    """Dossiers whose look-up hash is missing (stored before migration 0013) or no longer matches (the server
    secret changed): the hash is recomputed from the opened ID number."""
    changed, after = 0, 0
    while True:
        async with conn.transaction():
            rows = await conn.fetch(
                "SELECT id, body::text AS body, applicant_lookup FROM dossiers WHERE id > $1 ORDER BY id"
                f" LIMIT {BATCH} FOR UPDATE",
                after,
            )
            for row in rows:
                lookup = personal.lookup("id_number", personal.loads(row["body"])["applicant"]["id_number"])
                if lookup == row["applicant_lookup"]:
                    continue
                changed += 1
                if apply:
                    await conn.execute("UPDATE dossiers SET applicant_lookup = $2 WHERE id = $1", row["id"], lookup)
        if len(rows) < BATCH:
            return changed
        after = rows[-1]["id"]


async def _evidence(conn: asyncpg.Connection, personal: PersonalData, apply: bool) -> int:
    count, after = 0, 0
    while True:
        async with conn.transaction():
            rows = await conn.fetch(
                f"SELECT id, signed_xml FROM identity_evidence WHERE id > $1 ORDER BY id LIMIT {BATCH} FOR UPDATE",
                after,
            )
            for row in rows:
                if personal.blob_is_current(row["signed_xml"]):
                    continue
                count += 1
                if apply:
                    signed_xml = personal.open_bytes(EVIDENCE_PURPOSE, row["signed_xml"])
                    await conn.execute(
                        "UPDATE identity_evidence SET signed_xml = $2 WHERE id = $1",
                        row["id"],
                        personal.seal_bytes(EVIDENCE_PURPOSE, signed_xml),
                    )
        if len(rows) < BATCH:
            return count
        after = rows[-1]["id"]
