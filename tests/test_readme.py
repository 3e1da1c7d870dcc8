"""The README tells the truth: its "Try it" commands work as written, and its settings table is complete."""

import asyncio
import json
import re
from pathlib import Path

import aiohttp
import pytest

from gateway.settings import Settings
from tests.processes import MotcuaProcess, motcua_env

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _try_it_block() -> str:
    section = README.split("## Try it", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
async def test_try_it_commands_work_as_written(open_tmp_path):
    """The README's curl commands, pasted after `make run`, file a dossier, ack it, move it and track it."""
    tmp_path = open_tmp_path
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    demo = MotcuaProcess(
        "run", tmp_path / "motcua-run.log", motcua_env(MOTCUA_DATA_DIR=str(tmp_path / ".data")), cwd=tmp_path
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            await demo.start(session, ready_within=60)
        port = int(demo.base.rsplit(":", 1)[1])
        script = _try_it_block().replace("http://127.0.0.1:8081", f"http://127.0.0.1:{port + 1}")
        script = script.replace("http://127.0.0.1:8082", f"http://127.0.0.1:{port + 2}")
        script = script.replace("http://127.0.0.1:8080", demo.base)
        shell = await asyncio.create_subprocess_exec(
            "bash",
            "-euo",
            "pipefail",
            "-c",
            script,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(60):
            out, err = await shell.communicate()
        assert shell.returncode == 0, err.decode()
        lines = out.decode().rstrip().splitlines()
        assert '"form": "01"' in lines[0]
        assert '"identity_status": "verified"' in lines[0]  # checked against the demo's register simulator
        assert lines[1].startswith(f"{demo.base}/bien-nhan/000.00.10.H26-")  # the printable receipt's link
        assert lines[2] == "200 text/html; charset=utf-8"
        assert '"forwarding": "queued"' in lines[3]  # 1b: the declared form uploaded, hash and type checked
        assert '"dossier_code": "000.00.10.H26-' in lines[4]
        assert lines[6] == "200 application/pdf 633 bytes"  # the agency downloads the form
        assert '"kind": "result"' in lines[8]
        assert any('"type": "result_ready"' in line for line in lines)
        assert lines[-5] == "200 application/pdf 618 bytes"  # the citizen downloads the result with the PIN
        tracked = json.loads(lines[-4])
        assert tracked["code"].startswith("000.00.10.H26-") and tracked["status"] == "result_ready"
        assert [result["name"] for result in tracked["results"]] == ["Phieu-LLTP-so-1"]
        assert lines[-2] == "Tiếp nhận hồ sơ"  # step 6: the first progress row the portal holds
        assert lines[-1] == "online"  # the online dossier, answered 201 by the gateway
        pushed = json.loads(lines[-3])  # step 5: what the simulated Sở Tư pháp Đà Nẵng received, signature checked
        assert [code[:14] for code in pushed["dossiers"]] == ["000.00.10.H17-"] and pushed["rejected"] == 0
    finally:
        await demo.stop()


def test_settings_table_lists_every_setting():
    """Every `MOTCUA_*` setting appears in the README's table, and the table names no setting that does not exist."""
    documented = set(re.findall(r"^\| `(MOTCUA_[A-Z_]+)` \|", README, re.M))
    actual = {f"MOTCUA_{name.upper()}" for name in Settings.model_fields}
    assert documented == actual
