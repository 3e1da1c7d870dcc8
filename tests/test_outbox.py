"""Integration (real PostgreSQL, real HTTP, real `motcua` process): the outbox worker's claims, per-dossier
order, the retry budget and dead letters, and replaying them from the admin API and the CLI."""

import asyncio
import random
import uuid

import pytest
from structlog.testing import capture_logs

from gateway import worker
from gateway.keys import SERVICES
from gateway.store import outbox
from tests.processes import MOTCUA, motcua_env
from tests.samples import postal_dossier

KIND = "test.echo"
OTHER_KIND = "test.other"


class Echo:
    """A handler whose behaviour the test controls: it records what it sees and fails on demand."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []  # (task name, payload n)
        self.failing: dict[int, int] = {}  # payload n -> failures left (-1: always)

    async def __call__(self, services, message) -> bool:
        n = message["payload"]["n"]
        self.seen.append((asyncio.current_task().get_name(), n))
        await asyncio.sleep(0.001)  # let the other worker in while this one is busy
        left = self.failing.get(n, 0)
        if left:
            self.failing[n] = left - 1 if left > 0 else left
            raise RuntimeError(f"boom {n}")
        return True

    def numbers(self) -> list[int]:
        return [n for _, n in self.seen]


@pytest.fixture
def echo(monkeypatch) -> Echo:
    handler = Echo()
    monkeypatch.setattr(worker, "HANDLERS", {KIND: handler, OTHER_KIND: handler})
    return handler


async def enqueue(services, n: int, *, kind: str = KIND, dossier_id: int | None = None) -> uuid.UUID:
    async with services.connection() as conn:
        return await outbox.enqueue(conn, kind, dossier_id=dossier_id, target=None, payload={"n": n})


async def status_of(db, message_id: uuid.UUID) -> tuple[str, int, str | None]:
    row = await db.fetchrow("SELECT status, attempts, last_error FROM outbox WHERE message_id = $1", message_id)
    return row["status"], row["attempts"], row["last_error"]


async def test_two_workers_handle_each_of_200_messages_exactly_once(client, echo, db):
    """Two workers draining 200 messages concurrently handle every one exactly once, sharing the work."""
    services = client.app[SERVICES]
    for n in range(200):
        await enqueue(services, n)

    async def drain() -> None:
        while await worker.run_once(services):
            pass

    await asyncio.gather(asyncio.create_task(drain(), name="worker-a"), asyncio.create_task(drain(), name="worker-b"))
    assert sorted(echo.numbers()) == list(range(200))
    assert {name for name, _ in echo.seen} == {"worker-a", "worker-b"}
    counts = await db.fetch("SELECT status, count(*) AS n, max(attempts) AS attempts FROM outbox GROUP BY status")
    assert [(r["status"], r["n"], r["attempts"]) for r in counts] == [("delivered", 200, 1)]


async def test_a_dossiers_messages_of_one_kind_keep_their_order_across_a_retry(client, orgs, echo, db):
    """The second message of a dossier waits while the first fails and is retried; another kind of the same
    dossier, and messages without a dossier, are not held up."""
    services = client.app[SERVICES]
    filed = await client.post(
        "/v1/dossiers", json=postal_dossier(), headers={**orgs.postal.auth, "Idempotency-Key": "k1"}
    )
    assert filed.status == 201, await filed.text()
    dossier_id = await db.fetchval("SELECT id FROM dossiers")
    first = await enqueue(services, 1, dossier_id=dossier_id)
    second = await enqueue(services, 2, dossier_id=dossier_id)
    await enqueue(services, 3, kind=OTHER_KIND, dossier_id=dossier_id)
    await enqueue(services, 4)
    echo.failing[1] = 1

    while await worker.run_once(services):
        pass
    assert echo.numbers() == [1, 3, 4]  # 1 failed and backs off; 2 waits behind it
    assert await status_of(db, first) == ("pending", 1, "RuntimeError: boom 1")
    assert await status_of(db, second) == ("pending", 0, None)

    # Even when the second is due before the first, it waits for the first.
    await db.execute("UPDATE outbox SET available_at = now() - interval '1 hour' WHERE message_id = $1", second)
    assert not await worker.run_once(services)
    await db.execute("UPDATE outbox SET available_at = now() WHERE message_id = $1", first)
    while await worker.run_once(services):
        pass
    assert echo.numbers() == [1, 3, 4, 1, 2]
    assert (await status_of(db, first))[:2] == ("delivered", 2)
    assert await status_of(db, second) == ("delivered", 1, None)


async def _motcua(db_url: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(MOTCUA),
        *args,
        env=motcua_env(MOTCUA_DATABASE_URL=db_url),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


async def _bury(services, db, echo, n: int) -> uuid.UUID:
    """A message older than the retry budget that fails: dead-lettered, with a warning."""
    message_id = await enqueue(services, n)
    await db.execute("UPDATE outbox SET budget_from = now() - interval '4 days' WHERE message_id = $1", message_id)
    echo.failing[n] = -1
    with capture_logs() as logs:
        assert await worker.run_once(services)
    assert await status_of(db, message_id) == ("dead", 1, f"RuntimeError: boom {n}")
    (warning,) = [entry for entry in logs if entry["event"] == "worker.dead_lettered"]
    assert warning["log_level"] == "warning"
    assert warning["message_id"] == str(message_id)
    return message_id


async def test_past_the_budget_a_failing_message_goes_dead_and_replay_brings_it_back(client, orgs, echo, db, db_url):
    """A message past the retry budget is dead after a failure; the admin API and `motcua outbox list` show
    it; replay (API, then CLI) makes it pending, and the worker then delivers it."""
    services = client.app[SERVICES]
    young = await enqueue(services, 1)
    echo.failing[1] = 1
    assert await worker.run_once(services)
    assert (await status_of(db, young))[0] == "pending"  # within the budget: retried later
    await db.execute("UPDATE outbox SET available_at = now() WHERE message_id = $1", young)
    assert await worker.run_once(services)
    assert (await status_of(db, young))[:2] == ("delivered", 2)
    dead = await _bury(services, db, echo, 2)
    assert not await worker.run_once(services)  # a dead message is not claimed

    listed = await client.get("/v1/admin/outbox", params={"status": "dead"}, headers=orgs.admin.auth)
    assert listed.status == 200, await listed.text()
    (item,) = (await listed.json())["items"]
    assert (item["message_id"], item["kind"], item["status"], item["attempts"]) == (str(dead), KIND, "dead", 1)
    assert item["last_error"] == "RuntimeError: boom 2"
    assert "payload" not in item
    forbidden = await client.get("/v1/admin/outbox", params={"status": "dead"}, headers=orgs.agency.auth)
    assert forbidden.status == 403
    assert (await forbidden.json())["code"] == "auth.role"
    bad = await client.get("/v1/admin/outbox", params={"status": "buried"}, headers=orgs.admin.auth)
    assert bad.status == 400

    code, out, err = await _motcua(db_url, "outbox", "list", "--status", "dead")
    assert code == 0, err
    assert str(dead) in out and "boom 2" in out and str(young) not in out

    # Replay through the API: pending, attempts reset, then delivered once the cause is gone.
    echo.failing[2] = 0
    replayed = await client.post(f"/v1/admin/outbox/{dead}/replay", headers=orgs.admin.auth)
    assert replayed.status == 200, await replayed.text()
    assert ((body := await replayed.json())["status"], body["attempts"]) == ("pending", 0)
    again = await client.post(f"/v1/admin/outbox/{dead}/replay", headers=orgs.admin.auth)
    assert (again.status, (await again.json())["code"]) == (404, "message.not_found")
    unknown = await client.post(f"/v1/admin/outbox/{uuid.uuid4()}/replay", headers=orgs.admin.auth)
    assert unknown.status == 404
    assert await worker.run_once(services)
    assert (await status_of(db, dead))[:2] == ("delivered", 1)

    # Replay through the CLI.
    dead_too = await _bury(services, db, echo, 5)
    echo.failing[5] = 0
    code, out, err = await _motcua(db_url, "outbox", "replay", str(dead_too))
    assert code == 0, err
    assert await status_of(db, dead_too) == ("pending", 0, "RuntimeError: boom 5")  # the last error is kept
    code, _, err = await _motcua(db_url, "outbox", "replay", str(dead_too))
    assert code == 1 and "No dead message" in err
    assert await worker.run_once(services)
    assert (await status_of(db, dead_too))[:2] == ("delivered", 1)

    # --all-dead, by kind.
    third = await _bury(services, db, echo, 6)
    code, out, err = await _motcua(db_url, "outbox", "replay", "--all-dead", "--kind", OTHER_KIND)
    assert code == 0 and "Replayed 0" in out, err
    code, out, err = await _motcua(db_url, "outbox", "replay", "--all-dead", "--kind", KIND)
    assert code == 0 and "Replayed 1" in out, err
    assert (await status_of(db, third))[0] == "pending"


def test_backoff_grows_with_attempts_and_stays_under_the_cap(monkeypatch):
    """Full jitter: each delay lies in [0, min(cap, base * 2^attempts)], a window that doubles up to the cap."""
    rng = random.Random(5)
    monkeypatch.setattr(worker.random, "uniform", rng.uniform)
    for attempts in range(0, 40):
        ceiling = min(worker.BACKOFF_MAX_SECONDS, worker.BACKOFF_BASE_SECONDS * 2**attempts)
        for _ in range(50):
            assert 0 <= worker.backoff(attempts) <= ceiling <= worker.BACKOFF_MAX_SECONDS
    monkeypatch.setattr(worker.random, "uniform", lambda low, high: high)  # the window's upper end
    windows = [worker.backoff(attempts) for attempts in range(0, 40)]
    growing = windows[: windows.index(worker.BACKOFF_MAX_SECONDS) + 1]
    assert growing == sorted(set(growing)) and len(growing) > 5
    assert set(windows[len(growing) :]) == {worker.BACKOFF_MAX_SECONDS}
    assert worker.backoff(10**6) == worker.BACKOFF_MAX_SECONDS


async def test_a_replayed_message_gets_a_fresh_retry_budget(client, orgs, echo, db):
    """After a replay, one more failure reschedules the message instead of burying it again at once."""
    services = client.app[SERVICES]
    dead = await _bury(services, db, echo, 7)
    assert (await client.post(f"/v1/admin/outbox/{dead}/replay", headers=orgs.admin.auth)).status == 200
    echo.failing[7] = 1  # fails once more, then works
    assert await worker.run_once(services)
    assert (await status_of(db, dead))[0] == "pending"
