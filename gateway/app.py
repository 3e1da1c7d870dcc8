"""`create_app(settings)`: the aiohttp application with its pool, catalog and routes."""

import asyncio
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from adapters.dvcqg.client import PortalClient
from adapters.postal.client import PostalClient
from gateway import worker
from gateway.api import (
    admin,
    agency,
    documents,
    health,
    intake,
    jwks,
    metrics,
    portal,
    postal,
    postal_reports,
    tracking,
)
from gateway.calendar_refresh import build_calendar, keep_calendar_fresh
from gateway.content import LocalContentStore
from gateway.keys import SERVICES, Services
from gateway.middlewares import body_limit, problems, request_context
from gateway.openapi import OPENAPI, build_openapi
from gateway.pages import assets, citizen, monitor, operator, receipt
from gateway.pages.links import RECEIPT_LINK_PURPOSE
from gateway.personal import PersonalData
from gateway.proxies import client_address_middleware, parse_networks
from gateway.register import RegisterConnection, identity_config
from gateway.security import Sealer
from gateway.settings import Settings
from gateway.store.db import UNAVAILABLE_ERRORS, create_pool
from gateway.store.migrate import migrate
from gateway.workflow import deliver, dvcqg, overdue
from gateway.workflow import postal as postal_flow
from mapping import load_catalog
from mapping.units import load_tables as load_unit_tables

log = structlog.get_logger(__name__)
STARTUP_DB_WAIT_SECONDS = 30


def build_services(settings: Settings) -> Services:
    if settings.secret_key is None or len(settings.secret_key.get_secret_value()) < 32:
        raise ValueError("MOTCUA_SECRET_KEY must be set to at least 32 characters")
    secret = settings.secret_key.get_secret_value().encode()
    load_unit_tables()  # half a second now rather than on the first request
    return Services(
        settings=settings,
        catalog=load_catalog(settings.catalog_dir),
        calendar=build_calendar(settings, {}),  # plus the stored days off, once the database is up
        server_secret=secret,
        sealer=Sealer(secret),
        receipt_links=Sealer(secret, RECEIPT_LINK_PURPOSE),
        personal=personal_data(settings),
        content=content_store(settings),
    )


def personal_data(settings: Settings) -> PersonalData:
    """The cipher for ID and phone numbers at rest, from the settings (build_services checked the secret)."""
    assert settings.secret_key is not None
    configured = [key.get_secret_value() for key in settings.personal_data_keys]
    if any(len(key) < 32 for key in configured):
        raise ValueError("each of MOTCUA_PERSONAL_DATA_KEYS must be at least 32 characters")
    return PersonalData.from_secrets(settings.secret_key.get_secret_value().encode(), configured)


def content_store(settings: Settings) -> LocalContentStore:
    """The local content store (an S3-compatible one would be chosen here: see docs/decisions.md)."""
    store = LocalContentStore(settings.content_dir)
    store.prepare()
    return store


async def _database(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    settings = services.settings
    if not settings.database_url:
        raise ValueError("MOTCUA_DATABASE_URL is not set (`motcua run` starts an embedded server for you)")
    deadline = asyncio.get_running_loop().time() + STARTUP_DB_WAIT_SECONDS
    while True:
        try:
            services.pool = await create_pool(settings, settings.database_url, services.personal)
            break
        except UNAVAILABLE_ERRORS:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("database.waiting")
            await asyncio.sleep(1)
    async with services.pool.acquire() as conn:
        await migrate(conn)
    yield
    await services.pool.close()


async def _identity(app: web.Application) -> AsyncIterator[None]:
    """The population register client, its WSDL loaded now if the register answers (later if not)."""
    services = app[SERVICES]
    config = identity_config(services.settings)
    if config is not None:
        connection = RegisterConnection(config)
        await connection.start()
        services.register = connection
    yield
    if services.register is not None:
        await services.register.close()
    await deliver.close()  # the pushes' HTTP session, if one was opened


async def _postal(app: web.Application) -> AsyncIterator[None]:
    """The VNPost client, when MOTCUA_POSTAL_URL is set (its session opens on first use)."""
    services = app[SERVICES]
    config = postal_flow.postal_config(services.settings)
    if config is not None:
        services.postal = PostalClient(config)
    yield
    if services.postal is not None:
        await services.postal.close()


async def _portal(app: web.Application) -> AsyncIterator[None]:
    """The National Public Service Portal client, when MOTCUA_DVCQG_URL is set (it logs in on first use)."""
    services = app[SERVICES]
    config = dvcqg.portal_config(services.settings)
    if config is not None:
        services.portal = PortalClient(config)
    yield
    if services.portal is not None:
        await services.portal.close()


async def _worker(app: web.Application) -> AsyncIterator[None]:
    """An outbox worker inside this process (the demo); production runs `motcua worker` processes."""
    stop = asyncio.Event()
    services = app[SERVICES]
    tasks = [
        asyncio.create_task(worker.run_forever(services, stop), name="outbox-worker"),
        asyncio.create_task(overdue.scan_forever(services, stop), name="overdue-scan"),
        asyncio.create_task(postal_flow.poll_forever(services, stop), name="postal-poll"),
    ]
    yield
    stop.set()
    await asyncio.gather(*tasks)


def create_app(settings: Settings, *, with_worker: bool = False) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            client_address_middleware(parse_networks(settings.trusted_proxies)),
            request_context,
            problems,
            body_limit(settings.max_body_bytes),
        ],
    )
    app[SERVICES] = build_services(settings)
    api = (health, metrics, intake, portal, documents, agency, tracking, postal, admin, postal_reports, jwks)
    for module in (*api, citizen, receipt, operator, monitor, assets):
        app.router.add_routes(module.routes)
    app[OPENAPI] = build_openapi(app)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(keep_calendar_fresh)
    app.cleanup_ctx.append(_identity)
    app.cleanup_ctx.append(_postal)
    app.cleanup_ctx.append(_portal)
    if with_worker:
        app.cleanup_ctx.append(_worker)
    return app
