"""No raw ID number at rest: the README's whole walk through `motcua run` (postal intake checked against the
register with signed evidence, the agency's pull, result, postal return ordered from VNPost, tracking, a
signed push, portal sync, an online dossier), then every table of the gateway's own PostgreSQL, every file of
that server's data directory (heap, WAL, its log) and the gateway's log are searched for the ID and phone
numbers used: none is found. The same scans find the dossier codes, so they do read what was stored."""

import asyncio
import json
import re
from pathlib import Path

import aiohttp
import pytest

from gateway.store.embedded import EmbeddedPostgres
from tests.processes import MotcuaProcess, motcua_env
from tests.test_readme import ROOT, _try_it_block

EXAMPLES = ROOT / "docs" / "examples"


def _personal_numbers() -> set[str]:
    """The ID and phone numbers the README's examples carry."""
    text = "".join(path.read_text(encoding="utf-8") for path in EXAMPLES.glob("*.json"))
    found = set(re.findall(r'"(?:id_number|SoDinhDanh)": "([0-9]{12})"', text))
    found |= set(re.findall(r'"(?:phone|SoDienThoai)": "(0[0-9]{9})"', text))
    assert len(found) >= 2, found
    return found


async def _database_dump(url: str) -> str:
    """Every row of every table of the public schema as text (bytea as hex, hence the hex search below)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        parts = []
        for table in tables:
            rows = await conn.fetch(f'SELECT t::text AS row FROM "{table["tablename"]}" t')
            parts += [row["row"] for row in rows]
        return "\n".join(parts)
    finally:
        await conn.close()


def _files_holding(root: Path, needles: dict[str, bytes]) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {name: [] for name in needles}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        try:
            content = path.read_bytes()
        except PermissionError:
            continue
        for name, needle in needles.items():
            if needle in content:
                hits[name].append(str(path.relative_to(root)))
    return hits


async def _drained(url: str, within: float = 30) -> None:
    """Until the worker has nothing left it can do: every message delivered (the agency pull inbox aside)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        async with asyncio.timeout(within):
            while True:  # polled: the worker is another process
                pending = "SELECT count(*) FROM outbox WHERE status = 'pending' AND kind <> 'agency.deliver'"
                if not await conn.fetchval(pending):
                    break
                await asyncio.sleep(0.3)
        assert await conn.fetchval("SELECT count(*) FROM postal_items") >= 1  # the mailed result was ordered
    finally:
        await conn.close()


@pytest.mark.slow
async def test_no_raw_id_or_phone_number_in_the_database_its_files_or_the_logs(open_tmp_path):
    tmp_path = open_tmp_path
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    log_path = tmp_path / "motcua-run.log"
    demo = MotcuaProcess("run", log_path, motcua_env(MOTCUA_DATA_DIR=str(tmp_path / ".data")), cwd=tmp_path)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            await demo.start(session, ready_within=60)
        port = int(demo.base.rsplit(":", 1)[1])
        script = _try_it_block().replace("http://127.0.0.1:8081", f"http://127.0.0.1:{port + 1}")
        script = script.replace("http://127.0.0.1:8082", f"http://127.0.0.1:{port + 2}")
        script = script.replace("http://127.0.0.1:8080", demo.base)
        shell = await asyncio.create_subprocess_exec(
            "bash", "-euo", "pipefail", "-c", script, cwd=tmp_path, stdout=asyncio.subprocess.PIPE
        )
        async with asyncio.timeout(60):
            out, _ = await shell.communicate()
        assert shell.returncode == 0
        codes = set(re.findall(r"000\.00\.10\.H[0-9]{2}-[0-9]{6}-[0-9]{4}", out.decode()))
        assert len(codes) >= 2, out.decode()

        server = EmbeddedPostgres(tmp_path / ".data" / "postgres")
        server.start()  # joins the demo's running server
        url = server.url("motcua")
        await _drained(url)
        dump = await _database_dump(url)
        credentials = json.loads((tmp_path / ".data" / "demo-credentials.json").read_text())
        async with aiohttp.ClientSession() as session:
            found = await session.post(
                f"{demo.base}/v1/admin/dossiers/search",
                json={"id_number": "001090123456"},
                headers={"Authorization": f"Bearer {credentials['admin']}"},
            )
            assert found.status == 200
            assert codes <= {item["code"] for item in (await found.json())["items"]}  # the numbers are there, sealed
    finally:
        await demo.stop()

    numbers = _personal_numbers()
    for code in codes:
        assert code in dump  # the dump reads the dossiers
    leaks = {number for number in numbers if number in dump or number.encode().hex() in dump}
    assert not leaks, f"in clear in the database: {leaks}"

    needles = {number: number.encode() for number in numbers} | {code: code.encode() for code in codes}
    pgdata = tmp_path / ".data" / "postgres" / "pg"
    in_files = _files_holding(pgdata, needles)
    assert all(in_files[code] for code in codes)  # heap or WAL holds the codes: the files scan reads data
    assert not any(in_files[number] for number in numbers), {n: in_files[n] for n in numbers if in_files[n]}

    log = log_path.read_text(encoding="utf-8", errors="replace")
    assert any(code in log for code in codes)  # the log names dossiers
    assert not [number for number in numbers if number in log], "an ID or phone number in the gateway's log"
