"""Limits (issue 9): slow or misbehaving clients and slow upstreams time out, oversized input is refused, and none
of it takes the gateway down.

The client-side limits are proved against one real `motcua serve` child process (module fixture `gateway`,
short timeouts) through raw sockets that misbehave as an attacker's would; the last of those tests checks that,
after all of them, the same process still serves a full intake and a tracking look-up and holds no more file
descriptors than before. The slow upstreams run in-process on real sockets (the gateway's test server and the
simulators).

Promise → where it is proved (tests of other files are referenced, not repeated):

| promise | proved by |
|---|---|
| headers trickled (slowloris), 200 connections: cut, others served | `test_slowloris_on_200_connections` |
| idle keep-alive connections closed after the keep-alive timeout | `test_idle_keep_alive_is_closed` |
| JSON body trickled: 408 `request.timeout`, nothing stored | `test_slow_json_body_is_408` |
| upload stalled or trickled mid-body: 408, temp file gone, no row | `test_stalled_upload_leaves_nothing` |
| upload cut off by the client: nothing left | test_documents.py `test_an_upload_cut_off_midway_leaves_nothing` |
| download never read by the client: dropped, descriptor freed | `test_unread_download_is_dropped` |
| JSON body over the limit by its length: 413, no row | test_bad_input.py `test_declared_oversized_body_is_413` |
| … chunked, without a length: 413, nothing stored | test_bad_input.py `test_chunked_oversized_body_is_413` |
| document over its limit, declared or streamed: 413 | test_documents.py `test_an_oversize_file_is_refused_…` |
| all of a dossier's documents over their limit: 413 | test_documents.py `test_a_dossier_has_a_total_limit` |
| long header, 3000 headers, 100 KB URL: 4xx (aiohttp), no crash | `test_oversized_heads_are_4xx` |
| slow register: 201, identity pending, retry queued | test_identity_intake.py `test_an_unusable_answer_…[slow]` |
| … held only for its timeout, others answered meanwhile | `test_slow_register_holds_intake_only_its_timeout` |
| slow agency: push abandoned at its timeout, retried | test_push_delivery.py `test_failures_leave_nothing_…` |
| … while the worker in the gateway waits, requests answered | `test_slow_agency_holds_up_no_request` |
| VNPost silent or slow: PostalUnavailable (retried) | test_postal_simulator.py `test_every_failure_…[silent-*]` |
| portal slower than its timeout: PortalUnavailable in time | test_dvcqg_simulator.py `test_a_portal_slower_than_…` |
| any upstream down for long: work waits, then drains | test_outage_drain.py, test_dvcqg_sync.py |
| after all that, one process serves intake and tracking | `test_after_all_that_intake_and_tracking_work` |
"""

import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from adapters.agency.simulator import AgencySimulatorConfig, start_agency_simulator
from gateway import jws
from gateway.app import create_app
from gateway.keys import SERVICES
from gateway.store import endpoints
from gateway.store.embedded import free_port
from identity.keys import create_demo_keys
from identity.simulator import SimulatorConfig, start_simulator
from tests.conftest import SECRET, Org, make_org
from tests.processes import MOTCUA, motcua_env
from tests.samples import FILES, pdf, postal_dossier, sha256, upload_documents

CLIENT_TIMEOUT = 1.5  # MOTCUA_CLIENT_TIMEOUT_SECONDS of the gateway under test
KEEPALIVE = 2.0  # MOTCUA_KEEPALIVE_TIMEOUT_SECONDS
MAX_BODY = 4096  # MOTCUA_MAX_BODY_BYTES
LIVENESS = 2.0  # every /healthz during an attack answers within this
AGENCY = "000.00.10.H26"  # where postal_dossier() routes


# --- the gateway under attack: one `motcua serve` for the module ------------------------------------------------


@dataclass
class Gateway:
    process: subprocess.Popen
    port: int
    log: Path
    content_dir: Path
    postal: Org
    baseline_fds: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def alive(self) -> None:
        assert self.process.poll() is None, f"the gateway died:\n{self.log.read_text(errors='replace')[-3000:]}"


def _status(url: str) -> int:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as answer:
        return answer.status
    return 0


async def _organisation(url: str) -> Org:
    conn = await asyncpg.connect(url)
    try:
        return await make_org(conn, "Bưu điện Ba Đình (giới hạn)", "postal", unit_code="00004")
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def gateway(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """`motcua serve` on the test database with short client timeouts and a fixed-size pool (so that its
    descriptor count moves only with connections)."""
    home = tmp_path_factory.mktemp("limits")
    port = free_port()
    env = motcua_env(
        MOTCUA_DATABASE_URL=database_url,
        MOTCUA_SECRET_KEY=SECRET,
        MOTCUA_DATA_DIR=str(home / "data"),
        MOTCUA_PORT=str(port),
        MOTCUA_CLIENT_TIMEOUT_SECONDS=str(CLIENT_TIMEOUT),
        MOTCUA_KEEPALIVE_TIMEOUT_SECONDS=str(KEEPALIVE),
        MOTCUA_MAX_BODY_BYTES=str(MAX_BODY),
        MOTCUA_DB_POOL_MIN="2",
        MOTCUA_DB_POOL_MAX="2",
    )
    postal = asyncio.run(_organisation(database_url))
    log = home / "gateway.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(MOTCUA), "serve"], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    served = Gateway(process, port, log, home / "data" / "documents", postal)
    try:
        deadline = time.monotonic() + 30
        while _status(f"{served.base}/readyz") != 200:
            served.alive()
            assert time.monotonic() < deadline, "the gateway did not become ready"
            time.sleep(0.1)
        time.sleep(0.3)  # the readiness probe's connection is closed on the gateway's side too
        served.baseline_fds = served.fds()
        yield served
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- raw connections -----------------------------------------------------------------------------------------------


async def _connect(gateway: Gateway) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", gateway.port)


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer off a raw connection: status, headers (lower-case names), body."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(head[0].split()[1]), headers, body


async def _until_closed(reader: asyncio.StreamReader) -> None:
    """Returns once the gateway has closed the connection (EOF or reset), dropping whatever else it sent."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def _finish(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.asynccontextmanager
async def _liveness(gateway: Gateway) -> AsyncIterator[None]:
    """While the block runs, a normal client asks /healthz over and over on fresh connections: each must be
    answered within LIVENESS (checked when the block ends)."""
    stop = asyncio.Event()

    async def ask(session: aiohttp.ClientSession) -> int:
        answered = 0
        while not stop.is_set():
            async with asyncio.timeout(LIVENESS), session.get(f"{gateway.base}/healthz") as answer:
                assert answer.status == 200
            answered += 1
            await asyncio.sleep(0.1)
        return answered

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        asking = asyncio.create_task(ask(session))
        try:
            yield
        finally:
            stop.set()
            answered = await asking
    assert answered > 0


async def _dossier(gateway: Gateway, key: str) -> dict:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{gateway.base}/v1/dossiers",
            json=postal_dossier(),
            headers={**gateway.postal.auth, "Idempotency-Key": key},
        ) as answer,
    ):
        assert answer.status == 201, await answer.text()
        return await answer.json()


def _problem(status: int, headers: dict[str, str], body: bytes, expected: int, code: str) -> dict:
    assert status == expected, body
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["code"] == code and problem["status"] == expected
    return problem


# --- slow clients --------------------------------------------------------------------------------------------------


async def test_slowloris_on_200_connections(gateway):
    """200 connections each send a request line and then one header line every 0.25 s, never finishing the head:
    every one is closed, unanswered, at the keep-alive timeout, and /healthz is answered throughout."""
    gateway.alive()
    connections = [await _connect(gateway) for _ in range(200)]
    started = time.monotonic()

    async def trickle(writer: asyncio.StreamWriter) -> None:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n")
        for n in range(100):
            await asyncio.sleep(0.25)
            with contextlib.suppress(ConnectionError):
                writer.write(f"X-Slow-{n}: 1\r\n".encode())

    async def cut(reader: asyncio.StreamReader) -> float:
        with contextlib.suppress(ConnectionError):
            assert await reader.read(65536) == b""  # no answer, only the close
        return time.monotonic() - started

    async with _liveness(gateway):
        tricklers = [asyncio.create_task(trickle(writer)) for _, writer in connections]
        try:
            async with asyncio.timeout(KEEPALIVE + 5):
                times = await asyncio.gather(*(cut(reader) for reader, _ in connections))
        finally:
            for task in tricklers:
                await _finish(task)
            for _, writer in connections:
                await _close(writer)
    assert KEEPALIVE - 0.5 < min(times) and max(times) < KEEPALIVE + 5


async def test_idle_keep_alive_is_closed(gateway):
    """50 clients each make one request on a keep-alive connection and then say nothing: the gateway closes each
    one at the keep-alive timeout, not before."""
    connections = [await _connect(gateway) for _ in range(50)]
    for reader, writer in connections:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        status, headers, _ = await _answer(reader)
        assert status == 200 and headers.get("connection", "").lower() != "close"
    idle_from = time.monotonic()
    try:
        async with asyncio.timeout(KEEPALIVE + 5):
            await asyncio.gather(*(_until_closed(reader) for reader, _ in connections))
        assert time.monotonic() - idle_from > KEEPALIVE - 0.5
    finally:
        for _, writer in connections:
            await _close(writer)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_slow_json_body_is_408(gateway, database_url, framing):
    """An intake whose body comes one byte every 0.2 s (never idle for long, never complete in time) is answered
    408 `request.timeout` once the client timeout is up, with the connection closed; no dossier, no
    idempotency key is left behind."""
    body = json.dumps(postal_dossier()).encode()
    key = f"trickled-{framing}"
    reader, writer = await _connect(gateway)
    length = f"Content-Length: {len(body)}" if framing == "content-length" else "Transfer-Encoding: chunked"
    writer.write(
        f"POST /v1/dossiers HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {gateway.postal.key}\r\n"
        f"Idempotency-Key: {key}\r\nContent-Type: application/json\r\n{length}\r\n\r\n".encode()
    )
    started = time.monotonic()

    async def trickle() -> None:
        for byte in body:
            piece = bytes([byte])
            with contextlib.suppress(ConnectionError):
                writer.write(piece if framing == "content-length" else b"1\r\n" + piece + b"\r\n")
            await asyncio.sleep(0.2)

    sender = asyncio.create_task(trickle())
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT + 5):
            status, headers, answer = await _answer(reader)
    finally:
        await _finish(sender)
        await _close(writer)
    waited = time.monotonic() - started
    problem = _problem(status, headers, answer, 408, "request.timeout")
    assert problem["title"] == "Hết thời gian chờ dữ liệu gửi lên"
    assert headers["connection"].lower() == "close"
    assert CLIENT_TIMEOUT - 0.2 < waited < CLIENT_TIMEOUT + 3
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1", key) == 0
        assert await conn.fetchval("SELECT count(*) FROM dossiers WHERE submitter_org_id = $1", gateway.postal.id) == 0
    finally:
        await conn.close()


@pytest.mark.parametrize("pace", ["stall", "trickle"])
async def test_stalled_upload_leaves_nothing(gateway, database_url, pace):
    """A document upload that stops after half its body, or sends 100 bytes every 0.2 s (under 1 KiB/s): 408
    `request.timeout` once a 64 KiB piece has not come within the client timeout; the temporary file is
    removed and nothing is stored or recorded."""
    code = (await _dossier(gateway, f"upload-{pace}"))["code"]
    content = pdf("z" * 200_000)
    reader, writer = await _connect(gateway)
    writer.write(
        f"PUT /v1/dossiers/{code}/documents/{sha256(content)}?component_code=UQ&name=stalled HTTP/1.1\r\n"
        f"Host: gateway\r\nAuthorization: Bearer {gateway.postal.key}\r\nContent-Type: application/pdf\r\n"
        f"Content-Length: {len(content)}\r\n\r\n".encode()
    )

    async def send() -> None:
        if pace == "stall":
            writer.write(content[: len(content) // 2])
            return
        for start in range(0, len(content), 100):
            with contextlib.suppress(ConnectionError):
                writer.write(content[start : start + 100])
            await asyncio.sleep(0.2)

    sender = asyncio.create_task(send())
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT + 5):
            status, headers, answer = await _answer(reader)
    finally:
        await _finish(sender)
        await _close(writer)
    _problem(status, headers, answer, 408, "request.timeout")
    incoming = gateway.content_dir / ".incoming"
    async with asyncio.timeout(5):
        while any(incoming.iterdir()):  # noqa: ASYNC110 - the gateway discards it on its own
            await asyncio.sleep(0.05)
    assert not (gateway.content_dir / sha256(content)[:2]).exists()
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM contents WHERE sha256 = $1", sha256(content)) == 0
        linked = "SELECT count(*) FROM dossier_documents dd JOIN dossiers d ON d.id = dd.dossier_id WHERE d.code = $1"
        assert await conn.fetchval(linked, code) == 0
    finally:
        await conn.close()


async def test_unread_download_is_dropped(gateway):
    """A client asks for an 8 MiB document with a 4 KiB receive buffer and never reads: the gateway's answer
    stalls behind the client's closed window, and once the client timeout is up the connection is dropped (its
    descriptor freed, the client left with a fraction of the file) instead of being held for ever."""
    code = (await _dossier(gateway, "download"))["code"]
    content = pdf("big") + os.urandom(8 << 20)
    async with (
        aiohttp.ClientSession() as session,
        session.put(
            f"{gateway.base}/v1/dossiers/{code}/documents/{sha256(content)}",
            params={"component_code": "UQ", "name": "big"},
            data=io.BytesIO(content),
            headers={**gateway.postal.auth, "Content-Type": "application/pdf"},
        ) as answer,
    ):
        assert answer.status == 201, await answer.text()
    await asyncio.sleep(0.5)  # the session's connection is closed on the gateway's side too
    before = gateway.fds()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", gateway.port))
        sock.sendall(
            f"GET /v1/dossiers/{code}/documents/{sha256(content)} HTTP/1.1\r\nHost: gateway\r\n"
            f"Authorization: Bearer {gateway.postal.key}\r\n\r\n".encode()
        )
        async with asyncio.timeout(2):
            while gateway.fds() <= before:  # noqa: ASYNC110 - watching the gateway's descriptors
                await asyncio.sleep(0.02)
        stalled_from = time.monotonic()
        async with asyncio.timeout(CLIENT_TIMEOUT + 8):
            while gateway.fds() > before:  # noqa: ASYNC110 - watching the gateway's descriptors
                await asyncio.sleep(0.05)
        assert time.monotonic() - stalled_from > CLIENT_TIMEOUT - 0.5
        received = 0
        sock.settimeout(1)
        with contextlib.suppress(TimeoutError, ConnectionError):
            while chunk := sock.recv(1 << 20):
                received += len(chunk)
        assert received < len(content) // 2
    gateway.alive()


# --- sizes ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"GET /healthz HTTP/1.1\r\nHost: g\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n", id="long-header"),
        pytest.param(
            b"GET /healthz HTTP/1.1\r\nHost: g\r\n"
            + b"".join(b"X-H%d: %d\r\n" % (n, n) for n in range(3000))
            + b"\r\n",
            id="3000-headers",
        ),
        pytest.param(b"GET /healthz?q=" + b"q" * 100_000 + b" HTTP/1.1\r\nHost: g\r\n\r\n", id="100KB-query"),
        pytest.param(b"GET /" + b"p" * 100_000 + b" HTTP/1.1\r\nHost: g\r\n\r\n", id="100KB-path"),
    ],
)
async def test_oversized_heads_are_4xx(gateway, head):
    """Heads past aiohttp's parser limits (8190-byte lines and fields, 128 headers) are refused by aiohttp itself
    with a 4xx (its plain-text answer, before any route: see docs/decisions.md), never a 5xx, and the
    connection is closed; the gateway goes on serving."""
    reader, writer = await _connect(gateway)
    try:
        with contextlib.suppress(ConnectionError):  # it may answer and close before reading it all
            writer.write(head)
            await writer.drain()
        async with asyncio.timeout(5):
            status, _, _ = await _answer(reader)
            assert 400 <= status < 500
            await _until_closed(reader)
    finally:
        await _close(writer)
    async with aiohttp.ClientSession() as session, session.get(f"{gateway.base}/healthz") as answer:
        assert answer.status == 200
    gateway.alive()


# --- after all of that ---------------------------------------------------------------------------------------------


async def test_after_all_that_intake_and_tracking_work(gateway):
    """Last of the module's `gateway` tests: the process that went through every attack above files a dossier,
    takes its file and answers the citizen's tracking look-up, and its descriptors are back to where they were
    before the attacks (nothing it accepted is still held)."""
    gateway.alive()
    receipt = await _dossier(gateway, "after")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        for sha, path in receipt["upload_urls"].items():
            headers = {**gateway.postal.auth, "Content-Type": "application/pdf"}
            async with session.put(f"{gateway.base}{path}", data=FILES[sha], headers=headers) as answer:
                assert answer.status == 201, await answer.text()
        pin = {"X-Tracking-Pin": receipt["tracking_pin"]}
        async with session.get(f"{gateway.base}/v1/track/{receipt['code']}", headers=pin) as answer:
            assert answer.status == 200, await answer.text()
            assert (await answer.json())["code"] == receipt["code"]
    async with asyncio.timeout(5):
        while gateway.fds() > gateway.baseline_fds:  # noqa: ASYNC110 - watching the gateway's descriptors
            await asyncio.sleep(0.05)
    gateway.alive()


# --- slow upstreams (in-process gateway, real sockets) -------------------------------------------------------------


async def test_slow_register_holds_intake_only_its_timeout(aiohttp_client, settings, orgs, tmp_path):
    """The population register takes 3 s to answer, the gateway waits 1 s: the intake is answered 201 with
    identity pending after about that bound (not the register's 3 s), and meanwhile other requests are
    answered promptly."""
    keys = create_demo_keys(tmp_path / "keys")
    register = SimulatorConfig(
        key_file=keys["register.key"],
        cert_file=keys["register.crt"],
        trusted_client_certs=(keys["gateway.crt"],),
        population_size=300,
        fault="slow",
        slow_seconds=3.0,
    )
    runner, url = await start_simulator(register)
    try:
        verified = {
            "identity_url": url,
            "identity_key_file": keys["gateway.key"],
            "identity_cert_file": keys["gateway.crt"],
            "identity_trusted_certs": [keys["register.crt"]],
            "identity_timeout_seconds": 1.0,
        }
        client = await aiohttp_client(create_app(settings.model_copy(update=verified)))
        started = time.monotonic()
        headers = {**orgs.postal.auth, "Idempotency-Key": "slow-register"}
        intake = asyncio.create_task(client.post("/v1/dossiers", json=postal_dossier(), headers=headers))
        while not intake.done():
            async with asyncio.timeout(0.5):
                assert (await client.get("/healthz")).status == 200
            await asyncio.sleep(0.05)
        answer = await intake
        waited = time.monotonic() - started
        assert answer.status == 201, await answer.text()
        assert (await answer.json())["identity_status"] == "pending"
        assert 0.9 < waited < 2.5
    finally:
        await runner.cleanup()


async def test_slow_agency_holds_up_no_request(aiohttp_client, settings, orgs, db, tmp_path):
    """The worker inside the gateway (as `motcua run` has it) pushes to an agency that takes 3 s, with a 1 s
    delivery timeout: the push is abandoned at that bound and left pending for a retry, and while it waits
    the gateway answers requests promptly."""
    jws.create_key_file(tmp_path / "delivery.key")
    fast = {
        "delivery_key_file": tmp_path / "delivery.key",
        "delivery_timeout_seconds": 1.0,
        "worker_poll_seconds": 0.05,
    }
    client = await aiohttp_client(create_app(settings.model_copy(update=fast), with_worker=True))
    agency = AgencySimulatorConfig(
        jwks_url=str(client.make_url("/.well-known/jwks.json")), agency_code=AGENCY, mode="slow", slow_seconds=3.0
    )
    runner, url = await start_agency_simulator(agency)
    try:
        await endpoints.set_endpoint(db, AGENCY, f"{url}/inbox")
        headers = {**orgs.postal.auth, "Idempotency-Key": "slow-agency"}
        answer = await client.post("/v1/dossiers", json=postal_dossier(), headers=headers)
        assert answer.status == 201, await answer.text()
        await upload_documents(client, orgs.postal, await answer.json())  # the push is queued now
        metrics = client.server.app[SERVICES].metrics.registry
        retried = {"kind": "agency.deliver", "outcome": "retry"}
        started = time.monotonic()
        while True:
            async with asyncio.timeout(0.5):
                assert (await client.get("/healthz")).status == 200
            if metrics.get_sample_value("motcua_deliveries_total", retried):
                break
            assert time.monotonic() - started < 5, "the push was not abandoned at its timeout"
            await asyncio.sleep(0.05)
        assert time.monotonic() - started < 2.5  # the delivery timeout (1 s), not the agency's 3 s
        assert await db.fetchval("SELECT status FROM outbox WHERE kind = 'agency.deliver'") == "pending"
    finally:
        await runner.cleanup()
