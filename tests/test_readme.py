"""The README tells the truth: its "Try it" commands work as written, and its settings table is complete."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from gateway.settings import Settings
from gateway.store.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _try_it_block() -> str:
    section = README.split("## Try it", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def _wait_ready(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "motcua run exited early"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} not ready within {seconds} s")


@pytest.mark.slow
def test_try_it_commands_work_as_written():
    """The README's curl commands, pasted after `make run`, file a dossier, ack it, move it and track it."""
    tmp_path = Path(tempfile.mkdtemp(prefix="motcua-readme-"))
    tmp_path.chmod(0o755)  # the embedded server runs as another user when we are root
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update(MOTCUA_DATA_DIR=str(tmp_path / ".data"), MOTCUA_PORT=str(port), MOTCUA_LOG_JSON="true")
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/motcua"), "run"],
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz", server)
        script = _try_it_block().replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert '"form": "01"' in result.stdout
        assert '"dossier_code": "000.00.10.H26-' in result.stdout
        assert '"type": "result_ready"' in result.stdout
        assert result.stdout.rstrip().splitlines()[-1].startswith('{"code": "000.00.10.H26-')
        assert '"status": "result_ready"' in result.stdout.rstrip().splitlines()[-1]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_settings_table_lists_every_setting():
    """Every `MOTCUA_*` setting appears in the README's table, and the table names no setting that does not exist."""
    documented = set(re.findall(r"^\| `(MOTCUA_[A-Z_]+)` \|", README, re.M))
    actual = {f"MOTCUA_{name.upper()}" for name in Settings.model_fields}
    assert documented == actual
