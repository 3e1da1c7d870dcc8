"""The hash-chained timeline (real PostgreSQL): intact chains verify, and an edited, re-linked or removed event
is named with its dossier and position, by the function and by `motcua audit verify`."""

import os
import subprocess

from gateway.store.audit import verify_chains
from tests.processes import MOTCUA
from tests.samples import file_dossier, postal_dossier


async def _dossier_with_events(client, orgs, key: str) -> str:
    code = (await file_dossier(client, orgs.postal, postal_dossier(), key))["code"]
    for event in ("accepted", "result_ready"):
        answer = await client.post(f"/v1/agency/dossiers/{code}/events", json={"type": event}, headers=orgs.agency.auth)
        assert answer.status == 201, await answer.text()
    return code


def _audit(db_url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")} | {"MOTCUA_DATABASE_URL": db_url}
    return subprocess.run([str(MOTCUA), "audit", "verify"], capture_output=True, text=True, env=env, timeout=60)


async def test_intact_chains_verify(client, orgs, db, db_url):
    """Dossiers written by the gateway, times in any zone included, verify as intact chains."""
    for key in ("a", "b"):
        await _dossier_with_events(client, orgs, key)
    report = await verify_chains(db)
    assert (report.dossiers, report.events, report.broken) == (2, 8, [])  # received, document_received, 2 agency's
    cli = _audit(db_url)
    assert cli.returncode == 0 and "2 hồ sơ, 8 sự kiện: mọi chuỗi nguyên vẹn" in cli.stdout


async def test_an_edited_event_is_named(client, orgs, db, db_url):
    """Changing an event's content after the fact breaks its hash, and the check names dossier and event."""
    code = await _dossier_with_events(client, orgs, "e")
    await db.execute(
        'UPDATE dossier_events SET data = \'{"officer": "ai đó"}\' WHERE seq = 2 AND dossier_id ='
        " (SELECT id FROM dossiers WHERE code = $1)",
        code,
    )
    report = await verify_chains(db)
    assert [(b.dossier_code, b.seq) for b in report.broken] == [(code, 2)]
    cli = _audit(db_url)
    assert cli.returncode == 1 and f"HỎNG {code}: sự kiện #2" in cli.stdout


async def test_a_removed_or_relinked_event_is_named(client, orgs, db):
    """Deleting an event leaves a gap; re-pointing prev_hash breaks the link: both are found."""
    gap = await _dossier_with_events(client, orgs, "g")
    relinked = await _dossier_with_events(client, orgs, "r")
    await db.execute(
        "DELETE FROM dossier_events WHERE seq = 2 AND dossier_id = (SELECT id FROM dossiers WHERE code = $1)", gap
    )
    await db.execute(
        "UPDATE dossier_events SET prev_hash = NULL WHERE seq = 3"
        " AND dossier_id = (SELECT id FROM dossiers WHERE code = $1)",
        relinked,
    )
    broken = {(b.dossier_code, b.seq, b.reason) for b in (await verify_chains(db)).broken}
    assert broken == {
        (gap, 2, "thiếu sự kiện hoặc sai thứ tự"),
        (relinked, 3, "không nối với sự kiện trước (prev_hash khác)"),
    }
