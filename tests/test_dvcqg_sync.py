"""Integration (real PostgreSQL, the gateway with its worker, the portal simulator on a real port): every
dossier and every event of its timeline reach the National Public Service Portal, in order, exactly once,
through session expiry, outages, partial batch failures and a crash between the portal's answer and ours."""

import asyncio
import dataclasses
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from adapters.dvcqg.messages import portal_time
from adapters.dvcqg.simulator import SimulatorConfig, start_portal_simulator
from gateway.app import create_app
from gateway.keys import SERVICES
from gateway.worker import claim, kinds, run_once
from gateway.workflow.dvcqg import dossier_record
from gateway.workflow.dvcqg_reconcile import reconcile
from mapping.calendar import VN_TZ
from tests.journeys import DVCQG, PATHS, agency_event, bring
from tests.processes import motcua_env
from tests.samples import counter_dossier, file_dossier, postal_dossier

UNIT = "000.00.00.H26"
MOTCUA = Path(sys.executable).parent / "motcua"


@pytest.fixture
async def portal() -> AsyncIterator[str]:
    runner, url = await start_portal_simulator(SimulatorConfig(username="motcua", password="mat-khau", unit_code=UNIT))
    yield url
    await runner.cleanup()


def with_portal(settings, url: str, **changes):
    update = {
        "dvcqg_url": url,
        "dvcqg_username": "motcua",
        "dvcqg_password": SecretStr("mat-khau"),
        "dvcqg_unit_code": UNIT,
        "worker_poll_seconds": 0.05,
    }
    return settings.model_copy(update=update | changes)


@pytest.fixture
async def gateway(aiohttp_client, settings, portal):
    return await aiohttp_client(create_app(with_portal(settings, portal), with_worker=True))


async def control(url: str, path: str, body: dict | None = None) -> dict:
    async with aiohttp.ClientSession() as session:
        call = (
            session.post(f"{url}/_simulator/{path}", json=body)
            if body is not None
            else session.get(f"{url}/_simulator/{path}")
        )
        async with call as answer:
            assert answer.status in (200, 202), await answer.text()
            return await answer.json()


async def held(url: str, code: str) -> dict | None:
    dossiers = (await control(url, "dossiers"))["dossiers"]
    return next((d for d in dossiers if d["MaHoSo"] == code), None)


async def progress(url: str, code: str) -> list[dict]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/_simulator/progress/{code}") as answer:
            return (await answer.json())["rows"] if answer.status == 200 else []


async def until_synced(db, code: str, seconds: float = 15.0) -> None:
    """Every event of the dossier is held by the portal and no sync message is left to do."""
    async with asyncio.timeout(seconds):
        while True:
            row = await db.fetchrow(
                "SELECT d.id, (SELECT max(seq) FROM dossier_events e WHERE e.dossier_id = d.id) AS last_seq,"
                " s.synced_seq, (SELECT count(*) FROM outbox o WHERE o.dossier_id = d.id"
                "  AND o.kind = 'dvcqg.sync_dossier' AND o.status = 'pending') AS waiting"
                " FROM dossiers d LEFT JOIN dvcqg_sync s ON s.dossier_id = d.id WHERE d.code = $1",
                code,
            )
            if row["synced_seq"] == row["last_seq"] and row["waiting"] == 0:
                return
            await asyncio.sleep(0.05)


async def our_timeline(db, code: str) -> list[str]:
    return [
        row["type"]
        for row in await db.fetch(
            "SELECT type FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id WHERE d.code = $1 ORDER BY seq",
            code,
        )
    ]


async def test_a_dossier_and_every_step_reach_the_portal_in_order(gateway, orgs, portal, db):
    receipt = await file_dossier(gateway, orgs.postal, postal_dossier(), "sync-1")
    code = receipt["code"]
    for step in ("accepted", "supplement_requested"):
        assert (await agency_event(gateway, orgs, code, step)).status == 201
    supplement = await gateway.post(
        f"/v1/dossiers/{code}/supplements", json={"documents": postal_dossier()["documents"]}, headers=orgs.postal.auth
    )
    assert supplement.status in (200, 201), await supplement.text()
    for step in ("result_ready", "returned"):
        assert (await agency_event(gateway, orgs, code, step)).status == 201
    await until_synced(db, code)

    dossier = await held(portal, code)
    assert dossier is not None and dossier["TrangThaiHoSo"] == 10  # result returned
    # The dossier's status as it moved (quick steps may reach the portal together, in one update) ...
    assert dossier["history"][-1] == 10 and set(dossier["history"]) <= {2, 4, 5, 9, 10}
    record = dossier["record"]
    assert record["MaHoSo"] == code and record["MaTTHC"] == "2.000488" and record["DonViXuLy"] == "000.00.10.H26"
    assert record["KenhThucHien"] == "3" and record["NgayTra"] and record["NgayTiepNhan"] < record["NgayHenTra"]
    assert [doc["TepDinhKemId"] for doc in record["TaiLieuNop"]] == [d["sha256"] for d in receipt["documents"]]
    # ... while every step is a progress row, in order, none twice, each with the status it left the dossier in.
    rows = await progress(portal, code)
    statuses = await db.fetch(
        "SELECT status_after FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id WHERE d.code = $1"
        " ORDER BY seq",
        code,
    )
    assert [row["TrangThai"] for row in rows] == [str(DVCQG[r["status_after"]]) for r in statuses]
    assert [row["ThoiDiemXuLy"] for row in rows] == sorted(row["ThoiDiemXuLy"] for row in rows)
    assert {"4", "5", "9", "10"} <= {row["TrangThai"] for row in rows}
    assert rows[0]["NoiDungXuLy"] == "Tiếp nhận hồ sơ" and rows[0]["NguoiXuLy"] == "Bưu điện Ba Đình"


@pytest.mark.parametrize("status", ["refused", "withdrawn", "stopped", "payment_requested", "forwarded"])
async def test_each_status_reaches_the_portal_as_its_code(gateway, orgs, portal, db, status):
    receipt = await file_dossier(gateway, orgs.postal, postal_dossier(), f"sync-{status}")
    await bring(gateway, orgs, receipt["code"], status)
    await until_synced(db, receipt["code"])
    dossier = await held(portal, receipt["code"])
    assert dossier["TrangThaiHoSo"] == DVCQG[status], PATHS[status]


async def test_session_expiry_outage_and_partial_batches_end_with_one_copy_of_everything(gateway, orgs, portal, db):
    """The portal expires every session after one call, is down for the first calls, then refuses the second
    row of every batch: the dossier waits, the portal's words are kept for operators, and once the faults end
    everything arrives once, in order."""
    await control(portal, "faults", {"session_calls": 1, "fail_next": 2, "reject_index": 2})
    receipt = await file_dossier(gateway, orgs.counter, counter_dossier(), "sync-faults")
    code = receipt["code"]
    for step in ("accepted", "result_ready"):
        assert (await agency_event(gateway, orgs, code, step)).status == 201

    async def refusal_recorded():
        return await db.fetchval(
            "SELECT last_error FROM dvcqg_sync s JOIN dossiers d ON d.id = s.dossier_id WHERE d.code = $1", code
        )

    async with asyncio.timeout(40):  # two outage retries with the worker's backoff first
        while not (error := await refusal_recorded()):  # noqa: ASYNC110 - the worker records it
            await asyncio.sleep(0.05)
    assert "10" in error  # the portal's error_code for a record it failed to store
    await control(portal, "faults", {"reset": True})
    # The retry's backoff has grown meanwhile; bring it forward as `motcua outbox replay` would a dead one.
    await db.execute("UPDATE outbox SET available_at = now() WHERE kind = 'dvcqg.sync_dossier' AND status = 'pending'")
    await until_synced(db, code)
    rows = await progress(portal, code)
    assert len(rows) == len(await our_timeline(db, code))
    dossier = await held(portal, code)
    assert dossier["TrangThaiHoSo"] == 9
    # The refused row arrived after the later rows of its batch that were accepted; each row carries its event's
    # time, by which the portal orders a dossier's history: the same rows, the same times, each once.
    ours = await db.fetch(
        "SELECT status_after, occurred_at FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id"
        " WHERE d.code = $1 ORDER BY seq",
        code,
    )
    expected = sorted((portal_time(r["occurred_at"]), str(DVCQG[r["status_after"]])) for r in ours)
    assert sorted((row["ThoiDiemXuLy"], row["TrangThai"]) for row in rows) == expected
    calls = await control(portal, "calls")
    assert calls["sessions_issued"] >= 2  # the sessions expired and the client logged in again


async def test_a_crash_after_the_portal_answered_sends_nothing_twice(gateway, orgs, portal, db):
    """The portal accepted a sync but the worker died before recording it: the next sync finds the dossier
    'already exists', sends it as an update, and the progress rows it already holds are not doubled."""
    receipt = await file_dossier(gateway, orgs.postal, postal_dossier(), "sync-crash")
    code = receipt["code"]
    await until_synced(db, code)
    before = await progress(portal, code)
    # What a crash leaves: the portal has it all, our cursor does not know.
    await db.execute("DELETE FROM dvcqg_sync WHERE dossier_id = (SELECT id FROM dossiers WHERE code = $1)", code)
    assert (await agency_event(gateway, orgs, code, "accepted")).status == 201
    await until_synced(db, code)
    rows = await progress(portal, code)
    assert len(rows) == len(before) + 1 == len(await our_timeline(db, code))
    dossier = await held(portal, code)
    assert dossier["TrangThaiHoSo"] == 4 and len((await control(portal, "dossiers"))["dossiers"]) == 1
    assert dossier["updates"] >= 1  # the create came back "already exists" and went again as an update


async def test_without_a_portal_sync_messages_wait_unclaimed(client, orgs, db):
    """MOTCUA_DVCQG_URL unset: the worker leaves sync messages in the outbox (no retries burnt), ready for the
    day the portal is configured."""
    await file_dossier(client, orgs.postal, postal_dossier(), "sync-none")
    services = client.app[SERVICES]
    assert "dvcqg.sync_dossier" not in kinds(services)
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'dvcqg.sync_dossier'") == 1
    while (message := await claim(db, 60, kinds(services))) is not None:
        assert message["kind"] != "dvcqg.sync_dossier"
    assert await db.fetchval("SELECT attempts FROM outbox WHERE kind = 'dvcqg.sync_dossier'") == 0


async def test_reconcile_finds_every_difference_and_the_worker_fixes_what_is_behind(gateway, orgs, portal, db):
    codes = [(await file_dossier(gateway, orgs.postal, postal_dossier(), f"rec-{i}"))["code"] for i in range(4)]
    assert (await agency_event(gateway, orgs, codes[1], "accepted")).status == 201
    for code in codes:
        await until_synced(db, code)
    # The portal loses one dossier, one dossier's progress, and moves one back; it also holds one we never had.
    await control(portal, "tamper", {"action": "drop", "MaHoSo": codes[0]})
    await control(portal, "tamper", {"action": "set_status", "MaHoSo": codes[1], "TrangThaiHoSo": 2})
    await control(portal, "tamper", {"action": "drop_progress", "MaHoSo": codes[2]})
    services = gateway.app[SERVICES]
    async with services.connection() as conn:  # the pool's connections decode jsonb
        foreign = dossier_record(
            services, await conn.fetchrow("SELECT * FROM dossiers WHERE code = $1", codes[3]), [], None
        )
    foreign = dataclasses.replace(foreign, code=codes[3][:-4] + "9999")
    await services.portal.sync_dossiers([foreign], updating=False)

    today = datetime.now(VN_TZ).date()
    seen: list[tuple[int, int]] = []
    found = await reconcile(
        db, services.portal, today, today, batch_size=2, progress=lambda done, total: seen.append((done, total))
    )
    kinds_found = {(d.code, d.kind) for d in found.differences}
    assert kinds_found == {
        (codes[0], "missing"),
        (codes[1], "status"),
        (codes[2], "progress"),
        (foreign.code, "unknown_here"),
    }
    assert (found.dossiers, found.held, found.requeued) == (4, 3, 3)
    assert seen == [(2, 4), (4, 4)]  # the progress bar moved per batch

    for code in codes:
        await until_synced(db, code)
    again = await reconcile(db, services.portal, today, today, batch_size=50)
    assert [(d.code, d.kind) for d in again.differences] == [(foreign.code, "unknown_here")]
    assert (await held(portal, codes[1]))["TrangThaiHoSo"] == 4
    assert len(await progress(portal, codes[2])) == len(await our_timeline(db, codes[2]))


async def test_the_reconcile_command_lists_differences(gateway, orgs, portal, db, db_url, tmp_path):
    code = (await file_dossier(gateway, orgs.postal, postal_dossier(), "rec-cli"))["code"]
    await until_synced(db, code)
    await control(portal, "tamper", {"action": "drop", "MaHoSo": code})
    today = datetime.now(VN_TZ).date().isoformat()
    env = motcua_env(
        MOTCUA_DATABASE_URL=db_url,
        MOTCUA_DATA_DIR=str(tmp_path),
        MOTCUA_DVCQG_URL=portal,
        MOTCUA_DVCQG_USERNAME="motcua",
        MOTCUA_DVCQG_PASSWORD="mat-khau",
        MOTCUA_DVCQG_UNIT_CODE=UNIT,
    )
    command = await asyncio.create_subprocess_exec(
        str(MOTCUA), "dvcqg", "reconcile", "--from", today, "--to", today, "--dry-run",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await command.communicate()
    assert command.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[0].startswith(f"{code}  missing") and "1 dossiers in the period, 0 held" in lines[-1]
    assert "missing 1" in lines[-1]


async def test_dossiers_waiting_together_go_in_one_call_and_a_refused_one_holds_up_only_itself(
    aiohttp_client, settings, orgs, portal, db
):
    """Five dossiers waiting: one worker turn sends them in one DongBoHoSoMC and one CapNhatTienDoHoSoMC call. When
    the portal refuses the second record of the batch, the four others are synced and only that one waits."""
    client = await aiohttp_client(create_app(with_portal(settings, portal)))  # no worker: we turn it by hand
    services = client.app[SERVICES]
    codes = [(await file_dossier(client, orgs.postal, postal_dossier(), f"batch-{i}"))["code"] for i in range(5)]
    assert await run_once(services)
    calls = (await control(portal, "calls"))["calls"]
    assert (calls.get("DongBoHoSoMC"), calls.get("CapNhatTienDoHoSoMC")) == (1, 1)
    for code in codes:
        await until_synced(db, code, seconds=1)

    more = [(await file_dossier(client, orgs.postal, postal_dossier(), f"batch-more-{i}"))["code"] for i in range(3)]
    await control(portal, "faults", {"reject_index": 2})
    assert await run_once(services)
    await control(portal, "faults", {"reset": True})
    # The second record of each call refused: the second dossier (its rows then not sent), and the first one,
    # whose second row came second in the progress call; the third dossier is synced all the same.
    refused = {
        row["code"]
        for row in await db.fetch(
            "SELECT d.code FROM dvcqg_sync s JOIN dossiers d ON d.id = s.dossier_id WHERE s.last_error IS NOT NULL"
        )
    }
    assert refused == {more[0], more[1]}
    await until_synced(db, more[2], seconds=1)
    assert await held(portal, more[1]) is None
    for code in refused:
        message = await db.fetchrow(
            "SELECT attempts, last_error FROM outbox o JOIN dossiers d ON d.id = o.dossier_id"
            " WHERE d.code = $1 AND o.kind = 'dvcqg.sync_dossier' AND o.status = 'pending'",
            code,
        )
        assert message["attempts"] == 1 and "10" in message["last_error"]
