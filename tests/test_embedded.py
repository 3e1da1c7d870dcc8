"""The demo and the CLI as real processes: `motcua run` with its private PostgreSQL (start, Ctrl-C, restart,
joining), and `motcua clients` managing keys on a database it is given."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from gateway.store.embedded import EmbeddedPostgres
from tests.filing import upload_documents_to
from tests.processes import MOTCUA, MotcuaProcess, motcua_env
from tests.samples import postal_dossier

ROLES = ("postal", "counter", "agency", "portal", "admin")
CLI_SECONDS = 20


def _postgres_processes(pgdata: Path) -> list[str]:
    """Command lines of the processes that name this data directory (the postmaster does)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if str(pgdata) in text:
                found.append(text)
    return found


class Demo(MotcuaProcess):
    """`motcua run` on one data directory, stopped with SIGINT (Ctrl-C) as from a terminal."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(
            "run",
            data_dir.parent / "motcua-run.log",
            motcua_env(MOTCUA_DATA_DIR=str(data_dir)),
            cwd=data_dir.parent,
        )
        self.data_dir = data_dir
        self.pgdata = data_dir / "postgres" / "pg"
        self.credentials = data_dir / "demo-credentials.json"

    async def server_running(self) -> bool:
        return await asyncio.to_thread(EmbeddedPostgres(self.pgdata.parent)._is_running)

    async def cleanup(self) -> None:
        """Whatever a failed test left behind: the gateway, then its PostgreSQL."""
        await self.stop()
        if (self.pgdata / "PG_VERSION").exists() and await self.server_running():
            server = EmbeddedPostgres(self.pgdata.parent)
            await asyncio.to_thread(
                lambda: server._run("pg_ctl", "-D", str(self.pgdata), "-m", "immediate", "stop", check=False)
            )


@pytest.fixture
def data_dir(open_tmp_path: Path) -> Path:
    """A fresh data directory, not yet created."""
    return open_tmp_path / "data"


@pytest.fixture
async def demo(data_dir: Path) -> AsyncIterator[Demo]:
    demo = Demo(data_dir)
    try:
        yield demo
    finally:
        await demo.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


async def motcua(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(MOTCUA), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(CLI_SECONDS):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode, out.decode(), err.decode()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.slow
async def test_run_starts_a_private_postgres_with_demo_keys_and_ctrl_c_stops_both(demo, session):
    """`motcua run` on a fresh data directory serves with keys for the five roles written to
    demo-credentials.json, and Ctrl-C ends it promptly and cleanly, its private PostgreSQL included."""
    await demo.start(session)

    keys = json.loads(demo.credentials.read_text())
    assert sorted(keys) == sorted(ROLES)
    assert demo.credentials.stat().st_mode & 0o077 == 0  # keys are for the operator's eyes only
    for role, key in keys.items():
        async with session.get(f"{demo.base}/v1/agency/inbox", headers=bearer(key)) as inbox:
            assert inbox.status == (200 if role == "agency" else 403), (role, await inbox.text())
    async with session.get(f"{demo.base}/v1/agency/inbox", headers=bearer(keys["agency"][:-1] + "x")) as forged:
        assert forged.status == 401
    assert await demo.server_running()
    assert _postgres_processes(demo.pgdata)

    assert await demo.interrupt() == 0, demo.tail()
    assert not await demo.server_running(), demo.tail()
    assert _postgres_processes(demo.pgdata) == []
    assert "embedded_postgres.stopped" in demo.tail()


@pytest.mark.slow
async def test_second_run_keeps_the_keys_and_the_data_of_the_first(demo, session):
    """A second `motcua run` on the same data directory keeps demo-credentials.json as it was, and the keys in it
    and the dossiers filed before still work."""
    await demo.start(session)
    credentials = demo.credentials.read_bytes()
    keys = json.loads(credentials)
    async with session.post(
        f"{demo.base}/v1/dossiers", json=postal_dossier(), headers={**bearer(keys["postal"]), "Idempotency-Key": "k1"}
    ) as filed:
        assert filed.status == 201, await filed.text()
        receipt = await filed.json()
        code = receipt["code"]
    await upload_documents_to(session, demo.base, bearer(keys["postal"]), receipt)  # forwarded once its file is in
    assert await demo.interrupt() == 0, demo.tail()

    await demo.start(session)
    assert demo.credentials.read_bytes() == credentials
    async with session.get(f"{demo.base}/v1/dossiers/{code}", headers=bearer(keys["postal"])) as dossier:
        assert dossier.status == 200, await dossier.text()
    async with session.get(f"{demo.base}/v1/agency/inbox", headers=bearer(keys["agency"])) as inbox:
        assert inbox.status == 200
        assert [item["dossier_code"] for item in (await inbox.json())["items"]] == [code]
    assert await demo.interrupt() == 0, demo.tail()
    assert not await demo.server_running()


@pytest.mark.slow
async def test_cli_joins_the_running_demo_without_stopping_it(demo, session):
    """A `motcua clients list` run while `motcua run` is serving uses the same private PostgreSQL and leaves it
    running when it exits."""
    await demo.start(session)

    status, out, err = await motcua("clients", "list", env=demo.env)
    assert status == 0, err
    assert "(demo)" in out and all(role in out for role in ROLES)

    assert await demo.server_running()
    async with session.get(f"{demo.base}/readyz") as ready:
        assert ready.status == 200, await ready.text()
    keys = json.loads(demo.credentials.read_text())
    async with session.get(f"{demo.base}/v1/agency/inbox", headers=bearer(keys["agency"])) as inbox:
        assert inbox.status == 200
    assert await demo.interrupt() == 0, demo.tail()
    assert not await demo.server_running()


@pytest.mark.slow
async def test_clients_add_list_revoke_manage_a_working_key(client: TestClient, db_url):
    """`motcua clients add` prints a key once that authenticates, `clients list` shows its prefix and not the key,
    and `clients revoke <prefix>` makes the key fail with 401."""
    env = motcua_env(MOTCUA_DATABASE_URL=db_url)
    status, out, err = await motcua("clients", "add", "X", "--role", "counter", "--unit-code", "20194", env=env)
    assert status == 0, err
    key = out.strip().splitlines()[-1]
    assert key.startswith("mc_") and out.count(key) == 1
    prefix = key.split("_")[1]
    unknown = "/v1/dossiers/000.00.10.H26-260101-9999"

    known = await client.get(unknown, headers=bearer(key))
    assert known.status == 404, await known.text()  # authenticated: the dossier just does not exist

    status, out, err = await motcua("clients", "list", env=env)
    assert status == 0, err
    [line] = [line for line in out.splitlines() if " X " in line]
    assert "counter" in line and "20194" in line and prefix in line and "active" in line
    assert key not in out

    status, out, err = await motcua("clients", "revoke", prefix, env=env)
    assert status == 0, err
    revoked = await client.get(unknown, headers=bearer(key))
    assert revoked.status == 401
    assert (await revoked.json())["code"] == "auth.invalid"

    status, out, err = await motcua("clients", "list", env=env)
    assert status == 0, err
    [line] = [line for line in out.splitlines() if prefix in line]
    assert line.rstrip().endswith("revoked")
    status, _, err = await motcua("clients", "revoke", prefix, env=env)
    assert status == 1 and prefix in err
