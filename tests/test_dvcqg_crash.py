"""Sync crash (an outbox worker as a real process on the test database, the portal simulator on a real port,
answering slowly so that kills land mid-call): while the worker syncs N dossiers and their steps to the National
Public Service Portal it is killed with SIGKILL three times and restarted. The portal ends up holding each
dossier once, with its latest status and exactly one progress row per event of ours."""

import asyncio
import random

import aiohttp
import pytest

from adapters.dvcqg.simulator import SimulatorConfig, start_portal_simulator
from gateway.app import create_app
from tests.conftest import SECRET
from tests.journeys import DVCQG, agency_event
from tests.processes import WorkerProcess, motcua_env
from tests.samples import file_dossier, postal_dossier

N = 30
UNIT = "000.00.00.H26"


@pytest.mark.slow
async def test_killed_workers_leave_the_portal_with_one_copy_of_everything(
    aiohttp_client, settings, orgs, db, db_url, tmp_path
):
    config = SimulatorConfig(username="motcua", password="mat-khau", unit_code=UNIT, delay_seconds=0.03)
    sim_runner, portal = await start_portal_simulator(config)
    worker = WorkerProcess(
        tmp_path / "worker.log",
        motcua_env(
            MOTCUA_DATABASE_URL=db_url,
            MOTCUA_SECRET_KEY=SECRET,
            MOTCUA_DATA_DIR=str(tmp_path / "data"),
            MOTCUA_WORKER_POLL_SECONDS="0.05",
            MOTCUA_WORKER_LEASE_SECONDS="2",  # a killed worker's claims come back quickly
            MOTCUA_DVCQG_URL=portal,
            MOTCUA_DVCQG_USERNAME="motcua",
            MOTCUA_DVCQG_PASSWORD="mat-khau",
            MOTCUA_DVCQG_UNIT_CODE=UNIT,
        ),
    )
    try:
        # Dossiers filed through a gateway without a worker: their sync messages wait for the process below.
        client = await aiohttp_client(create_app(settings))
        codes = [(await file_dossier(client, orgs.postal, postal_dossier(), f"crash-{i}"))["code"] for i in range(N)]
        await worker.start()
        rng = random.Random()
        for step in ("accepted", "result_ready", "returned"):
            # One more step for every dossier while the worker runs, then a kill at a random moment of its work.
            for code in codes:
                answer = await agency_event(client, orgs, code, step)
                assert answer.status == 201, await answer.text()
            await asyncio.sleep(rng.uniform(0.2, 0.8))
            await worker.kill()
            await worker.start()

        async def synced() -> bool:
            behind = await db.fetchval(
                "SELECT count(*) FROM dossiers d LEFT JOIN dvcqg_sync s ON s.dossier_id = d.id"
                " WHERE s.synced_seq IS DISTINCT FROM (SELECT max(seq) FROM dossier_events e WHERE e.dossier_id = d.id)"
                " OR EXISTS (SELECT 1 FROM outbox o WHERE o.dossier_id = d.id AND o.kind = 'dvcqg.sync_dossier'"
                "            AND o.status = 'pending')"
            )
            return behind == 0

        async with asyncio.timeout(90):
            while not await synced():
                assert worker.process.returncode is None, worker.tail()
                await asyncio.sleep(0.1)

        async with aiohttp.ClientSession() as session:
            async with session.get(f"{portal}/_simulator/dossiers") as answer:
                held = {d["MaHoSo"]: d for d in (await answer.json())["dossiers"]}
            assert sorted(held) == sorted(codes)
            for code in codes:
                ours = await db.fetch(
                    "SELECT status_after FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id"
                    " WHERE d.code = $1 ORDER BY seq",
                    code,
                )
                async with session.get(f"{portal}/_simulator/progress/{code}") as answer:
                    rows = (await answer.json())["rows"]
                assert len(rows) == len(ours), code
                assert held[code]["TrangThaiHoSo"] == DVCQG[ours[-1]["status_after"]], code
        assert worker.starts == 4
    finally:
        await worker.stop()
        await sim_runner.cleanup()
