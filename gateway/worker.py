"""The outbox worker: claims due messages (FOR UPDATE SKIP LOCKED), runs their handler, and on failure
reschedules them with exponential backoff and jitter. Any number of workers may run against one database.

A claim is a lease: the row's `available_at` moves past the lease, so a worker that dies mid-message
leaves it to be claimed again once the lease ends; nothing is held open while a handler runs.
"""

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from gateway.keys import Services
from gateway.store import outbox
from gateway.workflow import identity_retry

log = structlog.get_logger(__name__)

LEASE_SECONDS = 60
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 600.0

Handler = Callable[[Services, asyncpg.Record], Awaitable[bool]]  # True: done; False: try again later

HANDLERS: dict[str, Handler] = {
    outbox.IDENTITY_VERIFY: identity_retry.handle,
}


def backoff(attempts: int) -> float:
    """Exponential backoff with full jitter, capped."""
    return random.uniform(0, min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(attempts, 20)))


async def claim(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE outbox SET attempts = attempts + 1, available_at = now() + make_interval(secs => $2)"
        " WHERE id = (SELECT id FROM outbox WHERE status = 'pending' AND kind = ANY($1::text[])"
        "             AND available_at <= now() ORDER BY available_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " RETURNING *",
        list(HANDLERS),
        float(LEASE_SECONDS),
    )


async def run_once(services: Services) -> bool:
    """Handle one due message, if any; True when one was handled (successfully or not)."""
    async with services.connection() as conn:
        message = await claim(conn)
    if message is None:
        return False
    try:
        done = await HANDLERS[message["kind"]](services, message)
        error = None
    except Exception as exc:  # a handler's bug must not stop the worker; the message is retried
        log.exception("worker.handler_failed", kind=message["kind"], message_id=str(message["message_id"]))
        done, error = False, f"{type(exc).__name__}: {exc}"[:500]
    async with services.connection() as conn:
        if done:
            await conn.execute(
                "UPDATE outbox SET status = 'delivered', delivered_at = now() WHERE id = $1", message["id"]
            )
        else:
            await conn.execute(
                "UPDATE outbox SET available_at = now() + make_interval(secs => $2), last_error = $3 WHERE id = $1",
                message["id"],
                backoff(message["attempts"]),
                error,
            )
    return True


async def run_forever(services: Services, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    log.info("worker.started", kinds=list(HANDLERS))
    while not stop.is_set():
        try:
            busy = await run_once(services)
        except Exception:  # database away: wait and try again
            log.warning("worker.poll_failed", exc_info=True)
            busy = False
        if not busy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), services.settings.worker_poll_seconds)
