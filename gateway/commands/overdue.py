"""`motcua overdue scan`: mark the dossiers past their appointment (one `overdue` event per appointment).

Run it periodically (e.g. every few minutes from cron or a timer); several runs at once are safe.
"""

import argparse
import asyncio

from gateway import runtime
from gateway.app import build_services
from gateway.calendar_refresh import load_calendar
from gateway.settings import Settings
from gateway.store.db import create_pool
from gateway.workflow.overdue import scan_overdue


def cmd_overdue(settings: Settings, args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> int:
        services = build_services(settings)
        # With the gateway's JSON codecs (personal fields opened and sealed).
        services.pool = await create_pool(settings, settings.database_url, services.personal)
        try:
            async with services.connection() as conn:
                services.calendar = await load_calendar(conn, settings)
                marked = await scan_overdue(services, conn)
        finally:
            await services.pool.close()
        print(f"Đã đánh dấu {marked} hồ sơ quá hạn.")
        return 0

    with runtime.database(runtime.with_secret(settings)) as settings:
        return asyncio.run(work(settings))


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("overdue", help="overdue dossiers (form 04 is then due)")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("scan", help="raise an `overdue` event on every dossier past its appointment").set_defaults(
        func=cmd_overdue
    )
