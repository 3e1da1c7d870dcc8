"""The mailed result, from the order to the citizen's door: the outbox handler that orders the delivery from
VNPost with an S10 number from our pool, and the ingestion of tracking events (callbacks and polls).

Events are stored once (a duplicate is recognised by item, code and time) and folded by event time into the
item's status (adapters/postal/status.py), so arrival order does not matter. The dossier follows the item:
delivered → `returned` (DVCQG 10); returned to sender → `result_back_at_counter`, the citizen is told on the
tracking page to collect the result where the dossier was received, and the lead agency reports `returned`
when they do.
"""

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from adapters.postal.client import PostalClient
from adapters.postal.errors import MalformedAnswer, PostalError, PostalUnavailable
from adapters.postal.messages import Order, Party, TrackingEvent
from adapters.postal.settings import PostalConfig
from adapters.postal.status import ItemEvent, Unified, current
from gateway.keys import Services
from gateway.settings import Settings
from gateway.store import dossiers
from gateway.store import postal as store
from mapping import MappingError, resolve_unit

log = structlog.get_logger(__name__)


def postal_config(settings: Settings) -> PostalConfig | None:
    if not settings.postal_url:
        return None
    return PostalConfig(
        url=settings.postal_url,
        customer_code=settings.postal_customer_code,
        username=settings.postal_username,
        password=settings.postal_password.get_secret_value(),
        callback_secret=settings.postal_callback_secret.get_secret_value().encode(),
        timeout_seconds=settings.postal_timeout_seconds,
        callback_freshness_seconds=settings.postal_callback_freshness_seconds,
    )


class PostalNotConfigured(Exception):
    """A mailed result is waiting and MOTCUA_POSTAL_URL is not set: it stays in the outbox until it is."""


def _address(line: str, unit: dict | None) -> tuple[str, str]:
    """The full address line (commune and province named) and the province code."""
    if unit is None:
        return line, ""
    return f"{line}, {unit['commune_name']}, {unit['province_name']}", unit["province_code"]


def result_order(dossier: asyncpg.Record, item_code: str, documents: list[dict]) -> Order:
    """The delivery order for a dossier's result: from the lead agency to the citizen's chosen address, the
    result documents named in the description, fees still due collected on delivery."""
    receipt, returning = dossier["receipt"], dossier["body"]["return_method"]
    lead = receipt["routing"]["steps"][0]
    address = returning["address"]
    try:
        unit = resolve_unit(
            address["unit_code"], address.get("code_system", "2025"), new_commune_code=address.get("new_commune_code")
        ).as_dict()
    except MappingError:  # checked at intake; a unit table change since must not stop the result
        unit = None
    receiver_line, receiver_province = _address(address["address_line"], unit)
    sender_unit = lead.get("unit") or receipt["routing"].get("residence")
    sender_line, sender_province = _address(lead["agency"]["name"], sender_unit)
    names = "; ".join(doc["name"] for doc in documents) or "kết quả giải quyết"
    return Order(
        order_number=dossier["code"],
        sender=Party(lead["agency"]["name"], "", sender_line, sender_province),
        receiver=Party(returning["recipient_name"], returning.get("phone") or "", receiver_line, receiver_province),
        description=f"Kết quả hồ sơ {dossier['code']}: {names}",
        cod_amount=int(receipt["fees"]["outstanding"]),
        item_code=item_code,
    )


async def send_result_order(services: Services, message: asyncpg.Record) -> bool:
    """Outbox handler for `postal.result_order`: allocate (once) an item number, order the delivery, record
    it. False (retry later) while VNPost is unavailable; a refusal raises and is retried, then dead-lettered
    with VNPost's reason for an operator."""
    client: PostalClient | None = services.postal
    if client is None:
        raise PostalNotConfigured("MOTCUA_POSTAL_URL is not set")
    payload = message["payload"]
    async with services.connection() as conn, conn.transaction():
        dossier = await conn.fetchrow("SELECT * FROM dossiers WHERE id = $1", message["dossier_id"])
        item = await store.result_item(conn, dossier["id"])
        if item is not None and item["ordered_at"] is not None:
            return True  # ordered by an earlier attempt whose answer was recorded
        if item is None:
            item_code = await store.allocate_s10(conn, services.settings.postal_item_prefixes)
            cod_due = int(dossier["receipt"]["fees"]["outstanding"])
            await store.insert_item(conn, item_code, dossier["id"], dossier["code"], "pool", cod_due)
        else:
            item_code = item["item_code"]  # the same number on every retry: VNPost dedupes by order number
    order = result_order(dossier, item_code, payload.get("documents", []))
    try:
        accepted = await client.create_order(order, service="delivery")
    except PostalUnavailable as exc:
        log.warning("postal.unavailable", code=dossier["code"], error=str(exc))
        return False
    if accepted.item_code != item_code:
        raise MalformedAnswer(f"VNPost answered item {accepted.item_code} for our {item_code}")
    now = datetime.now(UTC)
    async with services.connection() as conn, conn.transaction():
        locked = await conn.fetchrow("SELECT * FROM dossiers WHERE id = $1 FOR UPDATE", dossier["id"])
        await store.mark_ordered(conn, item_code, now)
        await dossiers.append_event(
            conn,
            dossier["id"],
            type="result_mailed",
            status_after=locked["status"],
            occurred_at=now,
            actor_org_id=None,
            data={"item_code": item_code, "cod_amount": order.cod_amount},
        )
    log.info("postal.result_ordered", code=dossier["code"], item=item_code)
    return True


@dataclass(frozen=True)
class Ingested:
    stored: bool  # False: a duplicate
    status: str | None  # the item's status after it


async def ingest(conn: asyncpg.Connection, event: TrackingEvent, source: str) -> Ingested | None:
    """Store one tracking event and move the item and its dossier; None if the item is not ours. Call inside a
    transaction."""
    item = await store.get_item(conn, event.item_code)
    if item is None:
        return None
    # Locks in the order every writer takes them (dossier, then item): the order handler and a callback
    # for the same result must not deadlock.
    await conn.execute("SELECT 1 FROM dossiers WHERE id = $1 FOR UPDATE", item["dossier_id"])
    item = await store.get_item(conn, event.item_code, for_update=True)
    stored = await store.add_event(conn, event, source)
    events = await store.events_of(conn, event.item_code)
    status = current(ItemEvent(row["occurred_at"], row["code"], row["id"]) for row in events)
    previous = item["status"]
    await store.set_status(conn, event.item_code, status.value if status else None)
    if stored and status is not None and status.value != previous:
        await _follow(conn, item, status, events)
    return Ingested(stored, status.value if status else None)


async def _follow(conn: asyncpg.Connection, item: asyncpg.Record, status: Unified, events: list) -> None:
    dossier = await conn.fetchrow("SELECT * FROM dossiers WHERE id = $1", item["dossier_id"])  # locked by ingest
    if dossier["status"] != "result_ready":
        return
    final = next(row for row in reversed(events) if row["status"] == status.value)
    data = {"item_code": item["item_code"], "postal_status": status.value, "at": final["occurred_at"].isoformat()}
    if status is Unified.DELIVERED:
        await dossiers.append_event(
            conn,
            dossier["id"],
            type="returned",
            status_after="returned",
            occurred_at=final["occurred_at"],
            actor_org_id=None,
            data=data | {"via": "postal"},
        )
    elif status is Unified.RETURNED_TO_SENDER:
        await dossiers.append_event(
            conn,
            dossier["id"],
            type="result_back_at_counter",
            status_after=dossier["status"],
            occurred_at=final["occurred_at"],
            actor_org_id=None,
            data=data,
        )


async def poll_quiet(services: Services) -> int:
    """Look up the items VNPost has said nothing about for MOTCUA_POSTAL_QUIET_SECONDS; how many were polled."""
    client: PostalClient | None = services.postal
    if client is None:
        return 0
    quiet_since = datetime.now(UTC) - timedelta(seconds=services.settings.postal_quiet_seconds)
    async with services.connection() as conn:
        items = await store.quiet_items(conn, quiet_since)
    for item_code in items:
        try:
            events = await client.track(item_code)
        except PostalUnavailable:
            break  # VNPost is away: the next round tries again
        except PostalError as exc:  # this item's answer is unusable: the others are still polled
            log.warning("postal.poll_refused", item=item_code, error=str(exc))
            continue
        async with services.connection() as conn, conn.transaction():
            for event in events:
                await ingest(conn, event, "poll")
            await conn.execute("UPDATE postal_items SET last_event_at = now() WHERE item_code = $1", item_code)
    return len(items)


async def poll_forever(services: Services, stop: asyncio.Event) -> None:
    """Poll quiet items every MOTCUA_POSTAL_POLL_SECONDS beside the outbox worker, until stopped."""
    while not stop.is_set():
        try:
            polled = await poll_quiet(services)
            if polled:
                log.info("postal.polled", items=polled)
        except Exception:  # database or VNPost away: the next round tries again
            log.warning("postal.poll_failed", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), services.settings.postal_poll_seconds)
