"""Integration (real PostgreSQL, the gateway on a real socket, schemathesis as a separate process): requests
generated from the served /openapi.json, as each client role, get no 5xx and no answer that breaks the
document (schema, status code, content type).

`make test` runs the short form (MOTCUA_FUZZ_EXAMPLES=30 per operation, a fixed seed: at least 5,000 requests
over the postal and agency roles); `make fuzz` the long one (more examples, every role, a fresh seed)."""

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.app import create_app

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
EXAMPLES = int(os.environ.get("MOTCUA_FUZZ_EXAMPLES", "30"))
ROLES = os.environ.get("MOTCUA_FUZZ_ROLES", "postal,agency").split(",")
SEED = os.environ.get("MOTCUA_FUZZ_SEED", "20261122")  # "random": a fresh seed each run
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"


async def _fuzz(base: str, key: str) -> tuple[int, str]:
    command = [
        str(SCHEMATHESIS), "run", f"{base}/openapi.json",
        "--header", f"Authorization: Bearer {key}",
        "--checks", CHECKS,
        "--max-examples", str(EXAMPLES),
        "--no-color",
    ]  # fmt: skip
    if SEED != "random":
        command += ["--seed", SEED]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=os.environ.get("TMPDIR", "/tmp")
    )
    async with asyncio.timeout(1800):
        out, _ = await process.communicate()
    return process.returncode, out.decode(errors="replace")


@pytest.fixture
async def gateway(aiohttp_client, settings):
    """The gateway with VNPost configured, so that its callback endpoint is live (unconfigured, it answers a
    documented 503 by design); nothing here calls VNPost itself."""
    configured = settings.model_copy(
        update={"postal_url": "http://127.0.0.1:9", "postal_callback_secret": SecretStr("fuzz-callback-secret")}
    )
    return await aiohttp_client(create_app(configured))


@pytest.mark.slow
async def test_generated_requests_get_no_server_error_and_answers_true_to_the_document(gateway, orgs):
    base = str(gateway.make_url("")).rstrip("/")
    generated = 0
    for role in ROLES:
        code, report = await _fuzz(base, getattr(orgs, role).key)
        tail = report[-6000:]
        assert code == 0, f"schemathesis as {role} found failures:\n{tail}"
        counted = re.search(r"([0-9,]+) generated", report)
        assert counted, tail
        generated += int(counted.group(1).replace(",", ""))
    print(f"schemathesis: {generated} generated requests over roles {', '.join(ROLES)}")
    if EXAMPLES >= 30:
        assert generated >= 5000, generated
