"""The outbox worker: claims due messages (FOR UPDATE SKIP LOCKED), runs their handler, and on failure
reschedules them with exponential backoff and jitter. Any number of workers may run against one database.

A claim is a lease (MOTCUA_WORKER_LEASE_SECONDS): the row's `available_at` moves past it, so a worker that
dies mid-message leaves it to be claimed again once the lease ends; nothing is held open while a handler runs.

Messages of one dossier, one kind and one target are handled in order: a message is claimable only while no
older message of the same dossier, kind and target is still pending (leased or waiting for a retry
included); one agency being down does not hold up a composite dossier's delivery to another agency of the
same order; messages without a dossier are unordered. A failed message older than MOTCUA_OUTBOX_RETRY_BUDGET_SECONDS is
dead-lettered (status 'dead', last error kept) instead of being rescheduled; `motcua outbox replay` and
POST /v1/admin/outbox/{message_id}/replay put it back.
"""

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import structlog

from gateway.keys import Services
from gateway.store import outbox
from gateway.workflow import deliver, dvcqg, identity_retry, online, postal

log = structlog.get_logger(__name__)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 600.0

Handler = Callable[[Services, asyncpg.Record], Awaitable[bool]]  # True: done; False: try again later

HANDLERS: dict[str, Handler] = {
    outbox.IDENTITY_VERIFY: identity_retry.handle,
    outbox.AGENCY_DELIVER: deliver.handle,  # push agencies only: see the claim's condition
    outbox.POSTAL_RESULT_ORDER: postal.send_result_order,
    outbox.DVCQG_SYNC: dvcqg.sync_dossier,
    outbox.DVCQG_FETCH_DOCUMENT: online.fetch_document,
}


@dataclass(frozen=True)
class Batched:
    """A kind whose partner takes several messages in one call: the worker claims up to `size` of them (one per
    dossier) and the handler answers, per message id, None when done or why not."""

    handler: Callable[[Services, list[asyncpg.Record]], Awaitable[dict[int, str | None]]]
    size: Callable[[Services], int]


BATCHES: dict[str, Batched] = {
    outbox.DVCQG_SYNC: Batched(dvcqg.sync_batch, lambda services: services.settings.dvcqg_batch_size),
}
# Kinds whose messages (one per dossier and target, as every claim) are handled several at a time, each on its
# own as if by that many workers: one claim, the calls side by side, one statement marking them delivered.
# Pushes to agencies are independent HTTP calls, so a worker need not wait for one before making the next.
CONCURRENT: dict[str, int] = {outbox.AGENCY_DELIVER: 16}
# Kinds that wait in the outbox, unclaimed, while their partner is not configured (rather than burning retries).
NEEDS = {outbox.DVCQG_SYNC: "portal"}


def kinds(services: Services) -> list[str]:
    """The kinds this process can handle now."""
    return [kind for kind in HANDLERS if getattr(services, NEEDS.get(kind, "settings")) is not None]


def backoff(attempts: int) -> float:
    """Exponential backoff with full jitter, capped."""
    return random.uniform(0, min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(attempts, 20)))


async def claim(
    conn: asyncpg.Connection, lease_seconds: float, kinds: list[str] | None = None
) -> asyncpg.Record | None:
    claimed = await claim_many(conn, lease_seconds, kinds, 1)
    return claimed[0] if claimed else None


async def claim_many(
    conn: asyncpg.Connection, lease_seconds: float, kinds: list[str] | None, limit: int
) -> list[asyncpg.Record]:
    """Up to `limit` due messages, at most one per dossier, kind and target (the older one first), oldest first."""
    claimed = await conn.fetch(
        "UPDATE outbox SET attempts = attempts + 1, available_at = now() + make_interval(secs => $2)"
        " WHERE id IN (SELECT o.id FROM outbox o WHERE o.status = 'pending' AND o.kind = ANY($1::text[])"
        "             AND o.available_at <= now()"
        "             AND (o.dossier_id IS NULL OR NOT EXISTS (SELECT 1 FROM outbox older"
        "                  WHERE older.dossier_id = o.dossier_id AND older.kind = o.kind"
        "                  AND older.target IS NOT DISTINCT FROM o.target"  # steps side by side: no blocking
        "                  AND older.status = 'pending' AND older.id < o.id))"
        f"             AND {deliver.push_condition('o')}"  # pull deliveries wait in the inbox instead
        "             ORDER BY o.available_at, o.id LIMIT $3 FOR UPDATE SKIP LOCKED)"
        " RETURNING *",
        list(HANDLERS) if kinds is None else kinds,
        float(lease_seconds),
        limit,
    )
    return sorted(claimed, key=lambda message: message["id"])  # RETURNING follows no order


async def run_once(services: Services) -> bool:
    """Handle one due message, if any (or a batch of them, for a kind whose partner takes several at once);
    True when something was handled (successfully or not)."""
    async with services.connection() as conn:
        message = await claim(conn, services.settings.worker_lease_seconds, kinds(services))
        if message is None:
            return False
        batch = [message]
        batched = BATCHES.get(message["kind"])
        more = batched.size(services) - 1 if batched is not None else CONCURRENT.get(message["kind"], 1) - 1
        if more > 0:
            batch += await claim_many(conn, services.settings.worker_lease_seconds, [message["kind"]], more)
    if batched is None:
        handler = HANDLERS[message["kind"]]
        if len(batch) == 1:
            handled = [await _handled(handler(services, message), message)]
        else:
            handled = await asyncio.gather(*(_handled(handler(services, each), each) for each in batch))
        outcomes = {each["id"]: outcome for each, outcome in zip(batch, handled, strict=True)}
    else:
        outcomes = await _batch_handled(services, batched, batch)
    async with services.connection() as conn:
        await mark_delivered(conn, [each["id"] for each in batch if outcomes[each["id"]][0]])
        for each in batch:  # a batch's messages are counted one by one
            ok, error = outcomes[each["id"]]
            outcome = "done" if ok else await _retry_or_bury(conn, services, each, error)
            if outcome is not None:
                services.metrics.deliveries.labels(each["kind"], outcome).inc()
    return True


async def mark_delivered(conn: asyncpg.Connection, ids: list[int]) -> None:
    """The messages a claim delivered, in one statement for the whole claim."""
    if ids:
        await conn.execute(
            "UPDATE outbox SET status = 'delivered', delivered_at = now() WHERE id = ANY($1::bigint[])", ids
        )


async def _handled(call: Awaitable[bool], message: asyncpg.Record) -> tuple[bool, str | None]:
    try:
        return await call, None
    except Exception as exc:  # a handler's bug must not stop the worker; the message is retried
        log.exception("worker.handler_failed", kind=message["kind"], message_id=str(message["message_id"]))
        return False, f"{type(exc).__name__}: {exc}"[:500]


async def _batch_handled(
    services: Services, batched: "Batched", batch: list[asyncpg.Record]
) -> dict[int, tuple[bool, str | None]]:
    """Each message's (done, error): a failure of the whole batch (the partner unreachable) fails every one."""
    try:
        results = await batched.handler(services, batch)
    except Exception as exc:
        log.exception("worker.handler_failed", kind=batch[0]["kind"], batch=len(batch))
        error = f"{type(exc).__name__}: {exc}"[:500]
        return {each["id"]: (False, error) for each in batch}
    return {
        each["id"]: (True, None) if results[each["id"]] is None else (False, results[each["id"]][:500])
        for each in batch
    }


async def _retry_or_bury(
    conn: asyncpg.Connection, services: Services, message: asyncpg.Record, error: str | None
) -> str | None:
    """Reschedule a failed message ("retry"), or dead-letter it once it is older than the retry budget ("dead");
    None when it is no longer pending (an operator or the dossier's end changed it meanwhile)."""
    row = await conn.fetchrow(
        "UPDATE outbox SET"
        " status = CASE WHEN budget_from <= now() - make_interval(secs => $4) THEN 'dead' ELSE 'pending' END,"
        " available_at = now() + make_interval(secs => $2),"
        " last_error = CASE WHEN budget_from <= now() - make_interval(secs => $4)"
        "                   THEN COALESCE($3, last_error, $5) ELSE $3 END"
        " WHERE id = $1 AND status = 'pending' RETURNING status, last_error",
        message["id"],
        backoff(message["attempts"]),
        error,
        float(services.settings.outbox_retry_budget_seconds),
        "the handler did not complete within the retry budget",
    )
    if row is not None and row["status"] == "dead":
        log.warning(
            "worker.dead_lettered",
            kind=message["kind"],
            message_id=str(message["message_id"]),
            dossier_id=message["dossier_id"],
            attempts=message["attempts"],
            created_at=message["created_at"].isoformat(),
            last_error=row["last_error"],
        )
    if row is None:
        return None
    return "dead" if row["status"] == "dead" else "retry"


# While work keeps coming, an idle worker looks again this soon rather than after MOTCUA_WORKER_POLL_SECONDS:
# a message committed just after a look waited up to the whole poll (the p99 of dispatch at half load was the
# 1 s poll). After ACTIVE_SECONDS without work it goes back to the configured poll, so an idle system is quiet.
ACTIVE_POLL_SECONDS = 0.05
ACTIVE_SECONDS = 5.0


async def run_forever(services: Services, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    log.info("worker.started", kinds=kinds(services))
    loop = asyncio.get_running_loop()
    last_busy = -ACTIVE_SECONDS
    while not stop.is_set():
        try:
            busy = await run_once(services)
        except Exception:  # database away: wait the whole poll and try again
            log.warning("worker.poll_failed", exc_info=True)
            busy, last_busy = False, -ACTIVE_SECONDS
        if busy:
            last_busy = loop.time()
            continue
        poll = services.settings.worker_poll_seconds
        if loop.time() - last_busy < ACTIVE_SECONDS:
            poll = min(poll, ACTIVE_POLL_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll)
