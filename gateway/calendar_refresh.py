"""The working calendar of a gateway process: the `holidays` package, MOTCUA_EXTRA_DAYS_OFF and the days off
stored in the database, reloaded every MOTCUA_DAYS_OFF_REFRESH_SECONDS so that a day off added with
`motcua calendar add-day-off` reaches every running process without a restart."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from datetime import date

import asyncpg
import structlog
from aiohttp import web

from gateway.keys import SERVICES, Services
from gateway.settings import Settings
from gateway.store.days_off import days_off_reasons
from mapping import WorkingCalendar

log = structlog.get_logger(__name__)
SETTINGS_REASON = "Ngày nghỉ theo cấu hình (MOTCUA_EXTRA_DAYS_OFF)"


def build_calendar(settings: Settings, stored: Mapping[date, str]) -> WorkingCalendar:
    """The calendar with the days off from settings and from the database (a stored reason wins)."""
    return WorkingCalendar(extra_days_off=dict.fromkeys(settings.extra_days_off, SETTINGS_REASON) | dict(stored))


async def load_calendar(conn: asyncpg.Connection, settings: Settings) -> WorkingCalendar:
    return build_calendar(settings, await days_off_reasons(conn))


async def _stored_days_off(services: Services) -> dict[date, str]:
    settings = services.settings
    async with asyncio.timeout(settings.db_acquire_timeout + settings.db_command_timeout):
        async with services.connection() as conn:
            return await days_off_reasons(conn)


async def _refresh_forever(services: Services, current: dict[date, str]) -> None:
    while True:
        await asyncio.sleep(services.settings.days_off_refresh_seconds)
        try:
            stored = await _stored_days_off(services)
        except Exception as exc:  # whatever went wrong, the calendar in use stays
            log.warning("days_off.refresh_failed", error=type(exc).__name__, detail=str(exc)[:200])
            continue
        if stored != current:
            services.calendar = build_calendar(services.settings, stored)
            log.info("days_off.refreshed", stored=len(stored))
            current = stored


async def keep_calendar_fresh(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (after the database one): load the stored days off, then refresh them in the background."""
    services = app[SERVICES]
    stored = await _stored_days_off(services)
    services.calendar = build_calendar(services.settings, stored)
    task = asyncio.create_task(_refresh_forever(services, stored), name="days-off-refresh")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
