"""`motcua worker`: drain the outbox (identity retries, pushes, mail orders, portal syncs) until stopped."""

import argparse
import asyncio
import signal

from aiohttp import web

from gateway.api import health, metrics
from gateway.app import create_app
from gateway.keys import SERVICES, Services
from gateway.middlewares import problems
from gateway.settings import Settings


def probe_app(services: Services) -> web.Application:
    """What a worker serves when MOTCUA_WORKER_METRICS_PORT is set: its own counters (deliveries by outcome
    exist only in the process that made them) at /metrics, under the same token, and /healthz. Nothing else:
    a worker is not a gateway."""
    probe = web.Application(middlewares=[problems])
    probe[SERVICES] = services
    probe.router.add_get("/metrics", metrics.metrics)
    probe.router.add_get("/healthz", health.healthz)
    return probe


async def _work(settings: Settings) -> None:
    # The app's start-up contexts (pool, migrations, calendar, register, worker) without the API's listener.
    app = create_app(settings, with_worker=True)
    runner = web.AppRunner(app)
    await runner.setup()
    probe = None
    if settings.worker_metrics_port is not None:
        probe = web.AppRunner(probe_app(app[SERVICES]), access_log=None)
        await probe.setup()
        await web.TCPSite(probe, settings.host, settings.worker_metrics_port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        if probe is not None:
            await probe.cleanup()
        await runner.cleanup()


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.database_url:
        print("MOTCUA_DATABASE_URL is not set; `motcua run` runs a worker inside the demo.")
        return 2
    asyncio.run(_work(settings))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    commands.add_parser("worker", help="run an outbox worker against MOTCUA_DATABASE_URL").set_defaults(func=cmd_worker)
