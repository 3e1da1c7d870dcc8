"""Crash (the gateway as a real process on the test database, killed with SIGKILL in the middle of a burst of
intakes and their uploads): nothing answered 201 is lost, nothing is duplicated, and every client retry
completes."""

import asyncio
import contextlib
import re
from collections import defaultdict
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import SECRET, make_org
from tests.filing import upload_documents_to
from tests.processes import MotcuaProcess, motcua_env
from tests.samples import postal_dossier

BURST = 60
KILL_AFTER = 10  # answers received before the process is killed
CODE = re.compile(r"^(?P<agency>.+)-(?P<day>\d{6})-(?P<number>\d{4})$")


def gateway(db_url: str, log: Path, **env: str) -> MotcuaProcess:
    """`motcua serve` on the test database."""
    return MotcuaProcess("serve", log, motcua_env(MOTCUA_DATABASE_URL=db_url, MOTCUA_SECRET_KEY=SECRET, **env))


@pytest.mark.slow
async def test_kill_during_a_burst_loses_and_duplicates_nothing(db, db_url, tmp_path):
    """A gateway killed with SIGKILL in the middle of a burst of intakes (each followed by the upload of its file)
    keeps every dossier it answered 201 for, never reuses a code or a sequence number, and after a restart every
    retry with the same Idempotency-Key answers 201, replaying the very same receipt for dossiers already
    committed; the file is then uploaded again (the same file again for uploads answered before the kill), so
    each key yields exactly one dossier with one 'received' event, one 'document_received' event and one agency
    delivery in the outbox."""
    postal = await make_org(db, "Bưu điện Ba Đình", "postal", unit_code="00004")
    bodies = {f"burst-{i:02d}": postal_dossier(fees=[]) if i % 2 else postal_dossier() for i in range(BURST)}
    data = str(tmp_path / "data")  # the content store, shared by both processes
    first = gateway(db_url, tmp_path / "first.log", MOTCUA_DATA_DIR=data)
    second = gateway(db_url, tmp_path / "second.log", MOTCUA_DATA_DIR=data, MOTCUA_IDEMPOTENCY_LEASE_SECONDS="1")
    answered: dict[str, dict] = {}
    failed: dict[str, BaseException] = {}
    uploaded: set[str] = set()  # keys whose upload was answered before the kill
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            await first.start(session)

            async def file(key: str) -> None:
                try:
                    async with session.post(
                        f"{first.base}/v1/dossiers", json=bodies[key], headers={**postal.auth, "Idempotency-Key": key}
                    ) as response:
                        assert response.status == 201, await response.text()
                        answered[key] = await response.json()
                except aiohttp.ClientError as error:
                    failed[key] = error
                    return
                if len(answered) == KILL_AFTER:
                    first.kill()  # synchronously, while the other requests are still on their way
                with contextlib.suppress(aiohttp.ClientError):  # killed meanwhile: uploaded again after the restart
                    await upload_documents_to(session, first.base, postal.auth, answered[key])
                    uploaded.add(key)

            async with asyncio.timeout(30):
                await asyncio.gather(*(file(key) for key in bodies))
            assert len(answered) >= KILL_AFTER, first.tail()
            assert failed, "the process was killed after the whole burst had been answered: nothing was in flight"
            await first.stop()

            rows = await db.fetch("SELECT code, receipt->>'received_at' AS received_at FROM dossiers")
            by_code = {row["code"]: row for row in rows}
            for key, receipt in answered.items():
                assert receipt["code"] in by_code, f"{key} was answered 201 but its dossier {receipt['code']} is lost"
                assert by_code[receipt["code"]]["received_at"] == receipt["received_at"]
            assert len(by_code) == len(rows) <= BURST

            await second.start(session)

            async def retry(key: str) -> tuple[int, dict, bool]:
                async with asyncio.timeout(15):
                    while True:
                        async with session.post(
                            f"{second.base}/v1/dossiers",
                            json=bodies[key],
                            headers={**postal.auth, "Idempotency-Key": key},
                        ) as response:
                            body = await response.json()
                            if response.status == 409 and body["code"] == "idempotency.in_flight":
                                await asyncio.sleep(0.5)  # a claim of the killed process, until its lease ends
                                continue
                            return response.status, body, response.headers.get("Idempotent-Replayed") == "true"

            retried = dict(zip(bodies, await asyncio.gather(*(retry(key) for key in bodies)), strict=True))

            async def upload(key: str) -> list[int]:
                """The post office sends the file again: whether or not its upload got through before the kill."""
                status, receipt, _ = retried[key]
                return await upload_documents_to(session, second.base, postal.auth, receipt) if status == 201 else []

            async with asyncio.timeout(30):
                reuploaded = dict(zip(bodies, await asyncio.gather(*(upload(key) for key in bodies)), strict=True))
    finally:
        await first.stop()
        await second.stop()

    assert {key: status for key, (status, _, _) in retried.items()} == dict.fromkeys(bodies, 201)
    for key, receipt in answered.items():
        _, again, replayed = retried[key]
        assert replayed, key
        assert again == receipt  # the same code, the same PIN: the very answer the post office lost
    committed_before_retry = set(by_code)
    for key, (_, again, replayed) in retried.items():
        assert replayed == (again["code"] in committed_before_retry), key
    assert answered.keys() - uploaded, "no upload was cut by the kill"
    for key in uploaded:
        assert reuploaded[key] == [200], key  # the same file again: nothing new recorded

    dossiers = await db.fetch("SELECT id, code, agency_code FROM dossiers")
    assert len(dossiers) == len({row["code"] for row in dossiers}) == BURST
    numbers: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in dossiers:
        match = CODE.match(row["code"])
        assert match and match["agency"] == row["agency_code"], row["code"]
        numbers[(match["agency"], match["day"])].append(int(match["number"]))
    for series in numbers.values():
        # The counter is bumped inside the intake transaction: an intake killed midway consumes no number.
        assert sorted(series) == list(range(1, len(series) + 1))
    assert {again["code"] for _, again, _ in retried.values()} == {row["code"] for row in dossiers}
    received = await db.fetch(
        "SELECT d.id, count(e.id) AS events FROM dossiers d"
        " LEFT JOIN dossier_events e ON e.dossier_id = d.id AND e.type = 'received' GROUP BY d.id"
    )
    assert {row["events"] for row in received} == {1}
    arrivals = await db.fetch(
        "SELECT d.id, count(e.id) AS events FROM dossiers d"
        " LEFT JOIN dossier_events e ON e.dossier_id = d.id AND e.type = 'document_received' GROUP BY d.id"
    )
    assert {row["events"] for row in arrivals} == {1}
    deliveries = await db.fetch(
        "SELECT d.id, count(o.id) AS messages FROM dossiers d"
        " LEFT JOIN outbox o ON o.dossier_id = d.id AND o.kind = 'agency.deliver' GROUP BY d.id"
    )
    assert {row["messages"] for row in deliveries} == {1}
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE state <> 'done'") == 0
