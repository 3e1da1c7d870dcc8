"""Typed keys for what the application holds (aiohttp `AppKey`)."""

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp import web

from gateway.content import ContentStore
from gateway.metrics import Metrics
from gateway.personal import PersonalData
from gateway.security import Sealer
from gateway.settings import Settings
from identity.model import PopulationRegister
from mapping import Catalog, WorkingCalendar


@dataclass
class Services:
    """What request handlers need, built once per process in `create_app`'s cleanup context."""

    settings: Settings
    catalog: Catalog
    calendar: WorkingCalendar
    server_secret: bytes
    sealer: Sealer
    receipt_links: Sealer  # seals the PIN into printable receipt links (gateway/pages/links.py)
    personal: PersonalData  # ID and phone numbers at rest (gateway/personal.py)
    content: ContentStore
    pool: asyncpg.Pool | None = None
    register: PopulationRegister | None = None  # None: identity is not checked (MOTCUA_IDENTITY_URL unset)
    postal: Any = None  # adapters.postal.client.PostalClient; None: MOTCUA_POSTAL_URL unset
    portal: Any = None  # adapters.dvcqg.client.PortalClient; None: MOTCUA_DVCQG_URL unset
    delivery_keys: Any = None  # LoadedDeliveryKeys, loaded on first use (gateway/delivery_keys.py)
    metrics: Metrics = field(default_factory=Metrics)  # this process's counters, served at GET /metrics

    def connection(self) -> asyncpg.pool.PoolAcquireContext:
        """A pooled connection; waiting for one (and handing it back) is bounded by the acquire timeout."""
        assert self.pool is not None, "the pool is created in the app's cleanup context"
        return self.pool.acquire(timeout=self.settings.db_acquire_timeout)


SERVICES = web.AppKey("services", Services)
