"""Integration (real PostgreSQL, real HTTP, the agency and population-register simulators on real sockets):
GET /metrics counts what happened, reads the backlog from the database, wants its own token, and answers while
the database is away."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from adapters.agency.simulator import AgencySimulatorConfig, start_agency_simulator
from gateway import worker
from gateway.app import create_app
from gateway.keys import SERVICES
from gateway.metrics import CHANNELS, INTAKE_OUTCOMES
from gateway.settings import Settings
from gateway.store import endpoints
from gateway.store.db import create_pool
from gateway.store.embedded import free_port
from identity.keys import create_demo_keys
from identity.simulator import SimulatorConfig, start_simulator
from tests.agency_simulator import simulator
from tests.conftest import SECRET
from tests.processes import WorkerProcess, motcua_env
from tests.samples import counter_dossier, file_dossier, postal_dossier
from tests.test_online_intake import push_body

TOKEN = "metrics-" + "t" * 40
AGENCY = "000.00.10.H26"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def metered(settings: Settings, **changes) -> Settings:
    return settings.model_copy(update={"metrics_token": SecretStr(TOKEN), **changes})


@pytest.fixture
async def gateway(aiohttp_client, settings) -> TestClient:
    return await aiohttp_client(create_app(metered(settings)))


async def scrape(client: TestClient) -> Samples:
    """GET /metrics with the token, parsed as Prometheus parses it: every sample by name and labels."""
    answer = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status == 200, await answer.text()
    assert answer.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(await answer.text())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def family(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (sample, labels), v in samples.items() if sample == name}


def online_push(reference: str) -> dict:
    """An online dossier as the portal pushes it; its file is to be fetched from the portal later."""
    return push_body(reference)


async def _post(client, path: str, org, body, key: str | None = "k") -> aiohttp.ClientResponse:
    headers = {**(org.auth if org else {}), "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(path, data=body if isinstance(body, str) else json.dumps(body), headers=headers)


async def test_intakes_and_routing_errors_are_counted_by_channel_and_outcome(gateway, orgs):
    """Dossiers accepted, a replay, refusals (an unknown unit, malformed JSON, no key, a portal push whose reference
    is not its key) show as exactly those numbers of motcua_intakes_total, every other combination 0; the
    unknown unit also counts once in motcua_routing_errors_total."""
    await file_dossier(gateway, orgs.postal, postal_dossier(), "p1")
    replay = await _post(gateway, "/v1/dossiers", orgs.postal, postal_dossier(), "p1")
    assert replay.status == 201 and replay.headers["Idempotent-Replayed"] == "true"
    await file_dossier(gateway, orgs.counter, counter_dossier(), "c1")
    bad_unit = postal_dossier()
    bad_unit["applicant"]["residence"]["unit_code"] = "99999"
    refused = await _post(gateway, "/v1/dossiers", orgs.postal, bad_unit, "p2")
    assert (refused.status, (await refused.json())["code"]) == (422, "unit.unknown")
    assert (await _post(gateway, "/v1/dossiers", orgs.postal, "{not json", "p3")).status == 400
    assert (await _post(gateway, "/v1/dossiers", None, postal_dossier(), "p4")).status == 401
    pushed = await _post(gateway, "/v1/portal/dossiers", orgs.portal, online_push("DVCQG-1"), "DVCQG-1")
    assert pushed.status == 201, await pushed.text()
    mismatched = await _post(gateway, "/v1/portal/dossiers", orgs.portal, online_push("DVCQG-2"), "DVCQG-3")
    assert mismatched.status == 422

    samples = await scrape(gateway)
    expected = {(channel, outcome): 0.0 for channel in CHANNELS for outcome in INTAKE_OUTCOMES}
    expected |= {
        ("postal", "accepted"): 1,
        ("postal", "replayed"): 1,
        ("postal", "rejected"): 2,
        ("counter", "accepted"): 1,
        ("online", "accepted"): 1,
        ("online", "rejected"): 1,
        ("unknown", "rejected"): 1,
    }
    counted = {
        (dict(labels)["channel"], dict(labels)["outcome"]): v
        for labels, v in family(samples, "motcua_intakes_total").items()
    }
    assert counted == expected
    assert family(samples, "motcua_routing_errors_total") == {frozenset({("code", "unit.unknown")}): 1}


@pytest.fixture
async def agency(gateway, db) -> AsyncIterator[str]:
    """The agency simulator, accepting, as the push endpoint of the agency the sample dossier routes to."""
    config = AgencySimulatorConfig(jwks_url=str(gateway.make_url("/.well-known/jwks.json")), agency_code=AGENCY)
    runner, url = await start_agency_simulator(config)
    await endpoints.set_endpoint(db, AGENCY, f"{url}/inbox")
    yield url
    await runner.cleanup()


async def _drain(services) -> None:
    while await worker.run_once(services):
        pass


async def test_outbox_backlog_and_deliveries_follow_the_worker(gateway, orgs, db, agency):
    """Pending pushes show in motcua_outbox_depth with the age of the oldest; the worker's outcomes count per
    message in motcua_deliveries_total (done, retry, dead), and a dead letter shows in the depth."""
    services = gateway.app[SERVICES]
    await simulator(agency, {"mode": "error"})
    for key in ("a", "b"):
        await file_dossier(gateway, orgs.postal, postal_dossier(), key)
    await db.execute("UPDATE outbox SET created_at = now() - interval '1 hour' WHERE kind = 'agency.deliver'")
    pending = {r["kind"]: r["n"] for r in await db.fetch("SELECT kind, count(*) AS n FROM outbox GROUP BY kind")}
    assert pending["agency.deliver"] == 2

    samples = await scrape(gateway)
    assert value(samples, "motcua_database_up") == 1
    for kind, n in pending.items():
        assert value(samples, "motcua_outbox_depth", kind=kind, status="pending") == n
        assert value(samples, "motcua_outbox_depth", kind=kind, status="dead") == 0
    assert 3600 <= value(samples, "motcua_outbox_oldest_seconds", kind="agency.deliver") < 3700
    assert value(samples, "motcua_outbox_oldest_seconds", kind="postal.result_order") == 0

    await _drain(services)  # the agency errs: both are rescheduled
    await db.execute(
        "UPDATE outbox SET available_at = now(), budget_from = now() - interval '10 days'"
        " WHERE id = (SELECT min(id) FROM outbox WHERE kind = 'agency.deliver')"
    )
    await _drain(services)  # the first one is past its budget now: dead
    await simulator(agency, {"mode": "accept"})
    await db.execute("UPDATE outbox SET available_at = now() WHERE status = 'pending'")
    await _drain(services)  # the other goes through

    samples = await scrape(gateway)
    deliveries = {
        (dict(labels)["kind"], dict(labels)["outcome"]): v
        for labels, v in family(samples, "motcua_deliveries_total").items()
        if v
    }
    assert deliveries == {("agency.deliver", "retry"): 2, ("agency.deliver", "dead"): 1, ("agency.deliver", "done"): 1}
    assert value(samples, "motcua_outbox_depth", kind="agency.deliver", status="pending") == 0
    assert value(samples, "motcua_outbox_depth", kind="agency.deliver", status="dead") == 1
    assert value(samples, "motcua_outbox_oldest_seconds", kind="agency.deliver") == 0


async def test_overdue_gauge_counts_open_dossiers_past_their_appointment(gateway, orgs, db):
    """A dossier past its appointment is overdue; one whose clock is stopped (awaiting a supplement), one that is
    finished, and one still within its appointment are not, whether or not the scan has run."""
    codes = {name: (await file_dossier(gateway, orgs.counter, counter_dossier(), name))["code"] for name in "abcd"}
    assert value(await scrape(gateway), "motcua_dossiers_overdue") == 0
    past = datetime.now(UTC) - timedelta(days=1)
    for name in "abc":
        await db.execute("UPDATE dossiers SET appointment_at = $2 WHERE code = $1", codes[name], past)
    await db.execute("UPDATE dossiers SET clock_stopped_at = now() WHERE code = $1", codes["b"])
    await db.execute("UPDATE dossiers SET status = 'result_ready' WHERE code = $1", codes["c"])
    assert value(await scrape(gateway), "motcua_dossiers_overdue") == 1


@pytest.fixture
async def register(tmp_path) -> AsyncIterator[str]:
    """The population-register simulator; its URL and the keys both sides sign with."""
    keys = create_demo_keys(tmp_path / "keys")
    config = SimulatorConfig(
        key_file=keys["register.key"],
        cert_file=keys["register.crt"],
        trusted_client_certs=(keys["gateway.crt"],),
        population_size=300,
    )
    runner, url = await start_simulator(config)
    yield url, keys
    await runner.cleanup()


async def _fail_next(url: str, fault: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url.rstrip('/')}/_simulator/faults", json={"next": [fault]}) as answer:
            assert answer.status < 300, await answer.text()


async def test_identity_lookups_are_timed_by_outcome(aiohttp_client, settings, register, orgs):
    """Each look-up of the register counts once in motcua_identity_seconds by outcome: an unreachable register is
    pending, an unsigned answer an error, then verified and mismatch; a cached verification is not a look-up."""
    url, keys = register
    client = await aiohttp_client(
        create_app(
            metered(
                settings,
                identity_url=url,
                identity_key_file=keys["gateway.key"],
                identity_cert_file=keys["gateway.crt"],
                identity_trusted_certs=[keys["register.crt"]],
                identity_timeout_seconds=1.0,
            )
        )
    )
    for key, fault in (("down", "down"), ("unsigned", "unsigned")):
        await _fail_next(url, fault)
        assert (await _post(client, "/v1/dossiers", orgs.postal, postal_dossier(), key)).status == 201
    assert (await _post(client, "/v1/dossiers", orgs.postal, postal_dossier(), "verified")).status == 201
    assert (await _post(client, "/v1/dossiers", orgs.postal, postal_dossier(), "cached")).status == 201
    stranger = postal_dossier()
    stranger["applicant"]["full_name"] = "Trần Thị Bích"
    assert (await _post(client, "/v1/dossiers", orgs.postal, stranger, "mismatch")).status == 422

    samples = await scrape(client)
    counts = {dict(labels)["outcome"]: v for labels, v in family(samples, "motcua_identity_seconds_count").items()}
    assert counts == {"verified": 1, "partial": 0, "mismatch": 1, "pending": 1, "error": 1}
    assert value(samples, "motcua_identity_seconds_sum", outcome="verified") > 0
    assert value(samples, "motcua_identity_seconds_bucket", outcome="verified", le="+Inf") == 1


async def test_metrics_want_the_metrics_token(gateway, orgs):
    """Without credentials /metrics is 401 auth.missing; a wrong token, and every organisation's API key, admin
    included, are 401 auth.invalid: only MOTCUA_METRICS_TOKEN opens it."""
    missing = await gateway.get("/metrics")
    assert missing.status == 401 and (await missing.json())["code"] == "auth.missing"
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    keys = [org.key for org in vars(orgs).values()]
    for credential in [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", *(f"Bearer {k}" for k in keys)]:
        answer = await gateway.get("/metrics", headers={"Authorization": credential})
        assert answer.status == 401, credential
        assert (await answer.json())["code"] == "auth.invalid"
    assert (await gateway.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status == 200


async def test_without_a_token_set_metrics_are_closed(client, orgs):
    """With MOTCUA_METRICS_TOKEN unset nothing opens /metrics, an admin key included."""
    for headers in ({"Authorization": f"Bearer {TOKEN}"}, orgs.admin.auth):
        answer = await client.get("/metrics", headers=headers)
        assert answer.status == 401 and (await answer.json())["code"] == "auth.invalid"


def test_two_apps_in_one_process_count_apart(settings):
    """Each app has its own registry: creating a second one is no duplicated time series, and its counts are
    its own."""
    first, second = create_app(metered(settings)), create_app(metered(settings))
    first[SERVICES].metrics.intakes.labels("postal", "accepted").inc()
    assert first[SERVICES].metrics.intakes.labels("postal", "accepted")._value.get() == 1
    assert second[SERVICES].metrics.intakes.labels("postal", "accepted")._value.get() == 0


async def test_database_down_still_answers_with_database_up_0(gateway, orgs, settings):
    """With the database unreachable (the pool pointed at a closed port) the scrape answers 200 at once: process
    metrics and counters, motcua_database_up 0, no backlog gauges; the refused intake counts as failed. Once
    the database is back the backlog returns."""
    services = gateway.app[SERVICES]
    await file_dossier(gateway, orgs.postal, postal_dossier(), "before")
    reachable = services.pool
    unreachable = await create_pool(
        settings.model_copy(update={"db_pool_min": 0}), unreachable_url(), services.personal
    )
    services.pool = unreachable
    try:
        intake = await _post(gateway, "/v1/dossiers", orgs.postal, postal_dossier(), "during")
        assert intake.status == 503
        samples = await scrape(gateway)
    finally:
        services.pool = reachable
        await unreachable.close()
    assert value(samples, "motcua_database_up") == 0
    assert family(samples, "process_cpu_seconds_total") and family(samples, "python_info")
    assert value(samples, "motcua_intakes_total", channel="postal", outcome="accepted") == 1
    assert value(samples, "motcua_intakes_total", channel="unknown", outcome="failed") == 1  # the key went unchecked
    assert not family(samples, "motcua_outbox_depth") and not family(samples, "motcua_dossiers_overdue")

    samples = await scrape(gateway)
    assert value(samples, "motcua_database_up") == 1
    assert value(samples, "motcua_outbox_depth", kind="agency.deliver", status="pending") == 1


def unreachable_url() -> str:
    """A PostgreSQL URL where nothing listens."""
    return f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"


@pytest.mark.slow
async def test_a_standalone_worker_serves_the_deliveries_it_made(gateway, orgs, db, db_url, agency, tmp_path):
    """`motcua worker` with MOTCUA_WORKER_METRICS_PORT: its /metrics (same token) counts the push it made, which
    the gateway process never sees; without the token 401; nothing of the API is served there."""
    port = free_port()
    env = motcua_env(
        MOTCUA_DATABASE_URL=db_url,
        MOTCUA_SECRET_KEY=SECRET,
        MOTCUA_DATA_DIR=str(tmp_path),  # the gateway's: the same demo delivery key, the same content store
        MOTCUA_WORKER_POLL_SECONDS="0.05",
        MOTCUA_WORKER_METRICS_PORT=str(port),
        MOTCUA_METRICS_TOKEN=TOKEN,
    )
    worker_process = WorkerProcess(tmp_path / "worker.log", env)
    await worker_process.start()
    try:
        await file_dossier(gateway, orgs.postal, postal_dossier(), "worker-metrics")
        done = 'motcua_deliveries_total{kind="agency.deliver",outcome="done"} 1.0'
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{port}"
            auth = {"Authorization": f"Bearer {TOKEN}"}
            async with asyncio.timeout(20):
                while True:  # polled: the worker is another process
                    async with session.get(f"{base}/metrics", headers=auth) as answer:
                        assert answer.status == 200
                        if done in await answer.text():
                            break
                    await asyncio.sleep(0.1)
            async with session.get(f"{base}/metrics") as answer:
                assert answer.status == 401
            async with session.get(f"{base}/healthz") as answer:
                assert answer.status == 200
            async with session.get(f"{base}/v1/agency/inbox", headers=orgs.agency.auth) as answer:
                assert answer.status == 404
        assert (await simulator(agency))["dossiers"]  # the agency has it: the worker pushed it
        assert value(await scrape(gateway), "motcua_deliveries_total", kind="agency.deliver", outcome="done") == 0
    finally:
        await worker_process.stop()
