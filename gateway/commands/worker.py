"""`motcua worker`: drain the outbox (identity retries, and what later issues add) until stopped."""

import argparse
import asyncio
import signal

from aiohttp import web

from gateway.app import create_app
from gateway.settings import Settings


async def _work(settings: Settings) -> None:
    # The app's start-up contexts (pool, migrations, calendar, register, worker) without an HTTP listener.
    runner = web.AppRunner(create_app(settings, with_worker=True))
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.database_url:
        print("MOTCUA_DATABASE_URL is not set; `motcua run` runs a worker inside the demo.")
        return 2
    asyncio.run(_work(settings))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    commands.add_parser("worker", help="run an outbox worker against MOTCUA_DATABASE_URL").set_defaults(func=cmd_worker)
