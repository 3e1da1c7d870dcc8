"""Demo organisations, one per role, with keys written to `.data/demo-credentials.json` (role → key)."""

import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
from aiohttp import web
from pydantic import SecretStr

from adapters.agency.simulator import AgencySimulatorConfig, start_agency_simulator
from adapters.dvcqg.simulator import SimulatorConfig as PortalSimulatorConfig
from adapters.dvcqg.simulator import start_portal_simulator
from adapters.postal.simulator import SimulatorConfig as PostalSimulatorConfig
from adapters.postal.simulator import start_postal_simulator
from gateway.keys import SERVICES
from gateway.settings import Settings
from gateway.store import clients, endpoints
from gateway.store.embedded import free_port
from identity.keys import create_demo_keys
from identity.simulator import SimulatorConfig, start_simulator

DEMO_ORGANISATIONS = (
    {"role": "postal", "name": "Bưu điện Trung tâm Hà Nội (demo)", "unit_code": "00004"},
    {"role": "counter", "name": "Bộ phận Một cửa phường Hải Vân, Đà Nẵng (demo)", "unit_code": "20194"},
    {"role": "agency", "name": "Sở Tư pháp thành phố Hà Nội (demo)", "agency_code": "000.00.10.H26"},
    {"role": "portal", "name": "Cổng Dịch vụ công quốc gia (demo)"},
    {"role": "admin", "name": "Vận hành motcua-gateway (demo)"},
)


def read_credentials(path: Path) -> dict[str, str]:
    return json.loads(path.read_text()) if path.exists() else {}


def write_credentials(path: Path, keys: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys, indent=2) + "\n")
    path.chmod(0o600)


async def seed_demo(conn: asyncpg.Connection, previous: dict[str, str]) -> dict[str, str]:
    """Create the demo organisations if missing; keep keys that still work, issue the others anew."""
    keys: dict[str, str] = {}
    async with conn.transaction():
        for spec in DEMO_ORGANISATIONS:
            row = await clients.find_organisation(conn, spec["name"])
            org_id = (
                row["id"]
                if row
                else await clients.create_organisation(
                    conn,
                    spec["name"],
                    spec["role"],
                    agency_code=spec.get("agency_code"),
                    unit_code=spec.get("unit_code"),
                )
            )
            old_key = previous.get(spec["role"])
            principal = await clients.authenticate(conn, old_key) if old_key else None
            keys[spec["role"]] = (
                old_key
                if principal and principal.organisation_id == org_id and old_key
                else await clients.issue_key(conn, org_id)
            )
    return keys


def simulated_register(settings: Settings) -> tuple[Settings, Callable | None]:
    """Unless a population database is configured, the demo runs the simulator on a port of its own, with
    demo keys in the data directory; returns the settings pointing at it and the app context that runs it."""
    if settings.identity_url:
        return settings, None
    keys = create_demo_keys(settings.data_dir / "keys")
    port = free_port()
    settings = settings.model_copy(
        update={
            "identity_url": f"http://127.0.0.1:{port}/",
            "identity_key_file": keys["gateway.key"],
            "identity_cert_file": keys["gateway.crt"],
            "identity_trusted_certs": [keys["register.crt"]],
        }
    )
    config = SimulatorConfig(
        key_file=keys["register.key"], cert_file=keys["register.crt"], trusted_client_certs=(keys["gateway.crt"],)
    )

    async def simulator(app: web.Application) -> AsyncIterator[None]:
        runner, _ = await start_simulator(config, port=port)
        yield
        await runner.cleanup()

    return settings, simulator


PUSH_AGENCY = "000.00.10.H17"
PUSH_AGENCY_NAME = "Sở Tư pháp thành phố Đà Nẵng"


def simulated_agency(gateway_url: str, port: int) -> tuple[Callable, str]:
    """The demo pushes dossiers for Sở Tư pháp Đà Nẵng to an agency simulator that verifies the gateway's
    signatures against its JWKS (Hà Nội stays on the pull inbox of the README walk-through). Returns the
    app context that runs it and records the endpoint, and the simulator's URL (on `port`: the gateway's
    port + 1 in the demo, so the README can name it)."""
    url = f"http://127.0.0.1:{port}"
    config = AgencySimulatorConfig(jwks_url=f"{gateway_url}/.well-known/jwks.json", agency_code=PUSH_AGENCY)

    async def context(app: web.Application) -> AsyncIterator[None]:
        runner, _ = await start_agency_simulator(config, port=port)
        async with app[SERVICES].connection() as conn:
            await endpoints.set_endpoint(conn, PUSH_AGENCY, f"{url}/inbox")
        yield
        with contextlib.suppress(Exception):  # the database may already be gone; the next run resets it
            async with app[SERVICES].connection() as conn:
                await endpoints.delete_endpoint(conn, PUSH_AGENCY)
        await runner.cleanup()

    return context, url


def simulated_postal(settings: Settings, gateway_url: str) -> tuple[Settings, Callable | None]:
    """Unless VNPost is configured, the demo runs the VNPost simulator on a port of its own: it accepts result
    orders and calls the gateway back with signed status events, an item every few seconds from order to
    delivery. Returns the settings pointing at it and the app context that runs it."""
    if settings.postal_url:
        return settings, None
    port = free_port()
    secret = secrets.token_urlsafe(32)
    settings = settings.model_copy(
        update={
            "postal_url": f"http://127.0.0.1:{port}",
            "postal_username": "motcua-demo",
            "postal_password": SecretStr("demo"),
            "postal_callback_secret": SecretStr(secret),
        }
    )
    config = PostalSimulatorConfig(
        username="motcua-demo",
        password="demo",
        customer_code=settings.postal_customer_code,
        callback_url=f"{gateway_url}/v1/postal/callbacks",
        callback_secret=secret.encode(),
        tick_seconds=2.0,
    )

    async def simulator(app: web.Application) -> AsyncIterator[None]:
        runner, _ = await start_postal_simulator(config, port=port)
        yield
        await runner.cleanup()

    return settings, simulator


def simulated_portal(
    settings: Settings, gateway_url: str, portal_key: str, port: int
) -> tuple[Settings, Callable | None]:
    """Unless the National Public Service Portal is configured, the demo runs its simulator on a port of its own:
    every dossier and step is synced to it, and online dossiers submitted to it
    (`POST /_simulator/submit_online`) come to the gateway with the demo portal's key."""
    if settings.dvcqg_url:
        return settings, None
    settings = settings.model_copy(
        update={
            "dvcqg_url": f"http://127.0.0.1:{port}",
            "dvcqg_username": "motcua-demo",
            "dvcqg_password": SecretStr("demo"),
        }
    )
    config = PortalSimulatorConfig(
        username="motcua-demo",
        password="demo",
        unit_code=settings.dvcqg_unit_code,
        gateway_url=gateway_url,
        gateway_key=portal_key,
    )

    async def simulator(app: web.Application) -> AsyncIterator[None]:
        runner, _ = await start_portal_simulator(config, port=port)
        yield
        await runner.cleanup()

    return settings, simulator
