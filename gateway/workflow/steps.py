"""The agencies that act on a dossier, one step each, and the dossier status their progress adds up to.

A plain procedure has one step and its dossier's status is that step's status. A composite procedure
(liên thông, e.g. 2.000986: birth registration → permanent residence → health-insurance card) has several:
steps of the lowest order are delivered at intake; when every step of an order has its result, the steps
of the next order are delivered, each to its own agency, carrying the results before it. Steps of equal
order run side by side. An agency sees and reports on a dossier once one of its steps has started.

A refusal or a stop at any step ends the whole dossier (the remaining steps are cancelled): 'refused' while
no step has taken the dossier into processing, 'stopped' once one has. The result is ready when every step
has its result; the lead agency (the first step's, under whose code the dossier is numbered) returns it.
"""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import asyncpg

from gateway.store import documents, dossiers, outbox
from gateway.store import steps as store
from gateway.workflow import lifecycle
from gateway.workflow.lifecycle import STATUSES, Transition
from mapping.calendar import VN_TZ

# What an agency reports on its own step; every other agency event concerns the dossier as a whole.
STEP_EVENTS = frozenset(
    {"accepted", "supplement_requested", "payment_requested", "payment_received", "stopped", "refused", "result_ready"}
)
LABELS = {name: status.label for name, status in STATUSES.items()} | {
    "waiting": "Chờ bước trước hoàn thành",
    "cancelled": "Đã hủy do hồ sơ kết thúc",
}
_TAKEN_IN = frozenset({"processing", "supplement_requested", "payment_requested", "result_ready"})


def aggregate(statuses: Iterable[str]) -> str:
    """The dossier status that its steps' statuses add up to (one step: that step's status)."""
    statuses = list(statuses)
    ended = {"refused", "stopped"}.intersection(statuses)
    if ended:
        taken_in = "stopped" in ended or any(status in _TAKEN_IN for status in statuses)
        return "stopped" if taken_in else "refused"
    if all(status == "result_ready" for status in statuses):
        return "result_ready"
    for waiting_on_citizen in ("supplement_requested", "payment_requested"):
        if waiting_on_citizen in statuses:
            return waiting_on_citizen
    if any(status in ("processing", "result_ready") for status in statuses):
        return "processing"
    if "forwarded" in statuses:
        return "forwarded"
    return "received"


def describe(step: asyncpg.Record) -> dict[str, Any]:
    """How an event names the step it concerns (only composite dossiers' events carry it)."""
    return {"order": step["step_order"], "name": step["name"], "agency": step["agency_code"]}


def view(step: asyncpg.Record, *, public: bool = False) -> dict[str, Any]:
    """A step as the dossier views show it; `public` (citizen tracking) leaves out what the agency wrote."""
    shown = {
        "order": step["step_order"],
        "name": step["name"],
        "agency": step["agency_code"],
        "status": step["status"],
        "status_label": LABELS[step["status"]],
        "started_at": step["started_at"],
        "finished_at": step["finished_at"],
    }
    if not public:
        shown["result"] = step["result"]
    return shown


def delivery_payload(
    dossier: asyncpg.Record,
    step: asyncpg.Record,
    steps: list[asyncpg.Record],
    linked: list[asyncpg.Record],
) -> dict[str, Any]:
    """What a step's agency receives: the dossier as filed with its documents (hashes and download links),
    where and when, its own step among all of them, and the results of the steps before it."""
    body, code = dossier["body"], dossier["code"]

    def document(row: asyncpg.Record) -> dict[str, Any]:
        shown = {"name": row["name"], "sha256": row["sha256"], "size": row["size"], "media_type": row["media_type"]}
        return shown | {"href": documents.download_path(code, row["sha256"])}

    def results_of(other: asyncpg.Record) -> list[dict[str, Any]]:
        return [
            document(row)
            for row in linked
            if row["kind"] == "result"
            and (row["step_order"], row["agency_code"]) == (other["step_order"], other["agency_code"])
        ]

    return {
        "dossier_code": code,
        "procedure": dossier["receipt"]["procedure"],
        "received_at": dossier["received_at"].astimezone(VN_TZ).isoformat(),
        "appointment_at": dossier["appointment_at"].astimezone(VN_TZ).isoformat(),
        "applicant": body["applicant"],
        "subject_location": body.get("subject_location"),
        "channel": body["channel"],
        "documents": [
            {"component_code": row["component_code"]} | document(row) for row in linked if row["kind"] == "component"
        ],
        "return_method": body["return_method"],
        "fees_collected": body["fees"],
        "step": {"order": step["step_order"], "name": step["name"], "of": len(steps)},
        "steps": [describe(other) for other in steps],
        "previous_results": [
            describe(other)
            | {
                "finished_at": other["finished_at"].isoformat(),
                "result": other["result"],
                "documents": results_of(other),
            }
            for other in steps
            if other["step_order"] < step["step_order"] and other["status"] == "result_ready"
        ],
    }


async def open_dossier(conn: asyncpg.Connection, dossier_id: int, decided: Iterable[Any]) -> None:
    """At intake, in its transaction: every routed step, all waiting (see `start_first`)."""
    for step in decided:
        await store.insert(conn, dossier_id, step.order, step.agency.identifier, step.name)


async def start_first(conn: asyncpg.Connection, dossier_id: int, at: datetime, deliver_at: datetime | None) -> bool:
    """Deliver the first order's steps, once the dossier is complete; False if they had started already."""
    all_steps = await store.list_for(conn, dossier_id)
    if any(step["status"] != "waiting" for step in all_steps):
        return False
    dossier = await conn.fetchrow("SELECT * FROM dossiers WHERE id = $1", dossier_id)
    await _start_order(conn, dossier, all_steps, all_steps[0]["step_order"], at, deliver_at)
    return True


async def _start_order(
    conn: asyncpg.Connection,
    dossier: asyncpg.Record,
    all_steps: list[asyncpg.Record],
    order: int,
    at: datetime,
    deliver_at: datetime | None = None,
) -> list[asyncpg.Record]:
    started = [step for step in all_steps if step["step_order"] == order]
    linked = await documents.list_for(conn, dossier["id"])
    for step in started:
        message_id = await outbox.enqueue(
            conn,
            outbox.AGENCY_DELIVER,
            dossier_id=dossier["id"],
            target=step["agency_code"],
            payload=delivery_payload(dossier, step, all_steps, linked),
            available_at=deliver_at,
        )
        await store.mark_started(conn, dossier["id"], order, step["agency_code"], message_id, at)
    return started


async def acting_step(conn: asyncpg.Connection, dossier_id: int, agency_code: str) -> asyncpg.Record | None:
    """The step an agency's report is about: its earliest unfinished started step, else its last one;
    None when it has no started step on this dossier (then the dossier is not its business yet)."""
    mine = [
        step
        for step in await store.list_for(conn, dossier_id)
        if step["agency_code"] == agency_code and step["status"] != "waiting"
    ]
    unfinished = [step for step in mine if step["status"] not in store.FINISHED]
    if unfinished:
        return unfinished[0]
    return mine[-1] if mine else None


def check(event: str, step: asyncpg.Record, dossier_status: str) -> Transition:
    """The step-level transition, or 409; once the dossier is finished (its steps cancelled, or the result
    returned) the answer names the dossier's status."""
    if step["status"] == "cancelled" or dossier_status in lifecycle.FINISHED:
        raise lifecycle.invalid(event, dossier_status)
    return lifecycle.apply(event, step["status"])


async def move(
    conn: asyncpg.Connection,
    dossier_id: int,
    step: asyncpg.Record,
    to: str,
    at: datetime,
    result: dict[str, Any] | None = None,
) -> tuple[str, bool]:
    """Move one step; return the dossier's new status and whether the dossier is composite."""
    kept = result if to == "result_ready" else None
    await store.set_status(conn, dossier_id, step["step_order"], step["agency_code"], to, at=at, result=kept)
    if to in ("refused", "stopped"):
        await end(conn, dossier_id, at)
    all_steps = await store.list_for(conn, dossier_id)
    return aggregate(step["status"] for step in all_steps), len(all_steps) > 1


async def end(conn: asyncpg.Connection, dossier_id: int, at: datetime) -> None:
    """The dossier ended before its result (withdrawn, refused, stopped): cancel the other steps and the
    deliveries no agency has taken yet."""
    await store.cancel_unfinished(conn, dossier_id, at)
    await outbox.cancel_deliveries(conn, dossier_id)


async def advance(conn: asyncpg.Connection, dossier_id: int, at: datetime) -> None:
    """After a step's result: once every step of its order has one, deliver the next order's steps and
    record each hand-over in the timeline. Call after the result's own event is appended."""
    all_steps = await store.list_for(conn, dossier_id)
    pending = [step for step in all_steps if step["status"] != "result_ready"]
    if not pending or any(step["status"] != "waiting" for step in pending):
        return  # all done, or a step of the current order is still at work
    dossier = await conn.fetchrow("SELECT * FROM dossiers WHERE id = $1", dossier_id)
    started = await _start_order(conn, dossier, all_steps, pending[0]["step_order"], at)
    status = aggregate(step["status"] for step in await store.list_for(conn, dossier_id))
    for step in started:
        await dossiers.append_event(
            conn,
            dossier_id,
            type="transferred",
            status_after=status,
            occurred_at=at,
            actor_org_id=None,
            data={"step": describe(step)},
        )


async def forwarded(
    conn: asyncpg.Connection, dossier: asyncpg.Record, message_id: str, at: datetime
) -> tuple[asyncpg.Record | None, str, bool]:
    """The delivery `message_id` reached its agency: its step is forwarded (if nothing further happened to
    it). Returns the step moved (None if none), the dossier's new status and whether it is composite."""
    all_steps = await store.forward(conn, dossier["id"], uuid.UUID(message_id))
    moved = next((step for step in all_steps if step["moved"]), None)
    if moved is None:
        return None, dossier["status"], False
    return moved, aggregate(step["status"] for step in all_steps), len(all_steps) > 1


async def supplement_arrived(conn: asyncpg.Connection, dossier_id: int, at: datetime) -> str:
    """The citizen's supplement answers every step that asked for one; the dossier's new status."""
    for step in await store.list_for(conn, dossier_id):
        if step["status"] == "supplement_requested":
            await store.set_status(conn, dossier_id, step["step_order"], step["agency_code"], "processing", at=at)
    return aggregate(step["status"] for step in await store.list_for(conn, dossier_id))


async def lead_order(conn: asyncpg.Connection, dossier_id: int) -> list[str]:
    """The agencies of the first order: the ones the paper dossier goes to."""
    all_steps = await store.list_for(conn, dossier_id)
    return [step["agency_code"] for step in all_steps if step["step_order"] == all_steps[0]["step_order"]]
