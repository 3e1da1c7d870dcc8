"""The legal clock of a dossier: when it starts, and the appointment it gives."""

from datetime import datetime
from typing import Any

import asyncpg

from gateway.errors import Conflict, Unprocessable
from gateway.keys import Services
from gateway.store import dossiers
from gateway.workflow import lifecycle
from mapping.calendar import VN_TZ


async def start_on_physical_receipt(
    services: Services, conn: asyncpg.Connection, dossier: asyncpg.Record, received_at: datetime
) -> dict[str, Any]:
    """A postal dossier's legal clock starts when the agency has the paper dossier (Decision 45/2016/QĐ-TTg:
    postal transit is not processing time). Re-date the appointment from that moment, with the procedure
    version in force when the dossier was filed; return what the event records."""
    if dossier["channel"] != "postal":
        raise Conflict(
            "Chỉ hồ sơ nộp qua bưu chính mới có bước nhận hồ sơ giấy từ bưu điện.", code="event.not_applicable"
        )
    if await dossiers.has_event(conn, dossier["id"], "physical_received"):
        raise Conflict("Cơ quan đã báo nhận hồ sơ giấy của hồ sơ này.", code="dossier.invalid_transition")
    procedure = services.catalog.procedure(dossier["procedure_code"], dossier["received_at"].astimezone(VN_TZ).date())
    appointment = services.calendar.appointment(received_at, procedure.processing, procedure.same_day_cutoff)
    await dossiers.set_appointment(conn, dossier["id"], appointment)
    return {
        "previous_appointment_at": dossier["appointment_at"].astimezone(VN_TZ).isoformat(),
        "appointment_at": appointment.isoformat(),
    }


async def stop_for_supplement(
    conn: asyncpg.Connection, dossier: asyncpg.Record, stopped_at: datetime
) -> dict[str, Any]:
    """A supplement request (form 02) stops the clock until the supplement arrives. A second request while it
    stands (another step of a composite dossier) keeps the first stop: the clock stopped then."""
    if dossier["clock_stopped_at"] is not None:
        return {"stopped_at": dossier["clock_stopped_at"].astimezone(VN_TZ).isoformat()}
    await dossiers.stop_clock(conn, dossier["id"], stopped_at)
    return {"stopped_at": stopped_at.astimezone(VN_TZ).isoformat()}


async def resume_on_supplement(
    services: Services, conn: asyncpg.Connection, dossier: asyncpg.Record, resumed_at: datetime
) -> dict[str, Any]:
    """The supplement arrived: the appointment moves by the working time the clock stood still."""
    stopped_at = dossier["clock_stopped_at"]
    previous = dossier["appointment_at"]
    if stopped_at is None:  # a dossier stopped before this column existed: nothing to measure
        appointment = previous.astimezone(VN_TZ)
    else:
        appointment = services.calendar.resume_after_stop(previous, stopped_at, max(resumed_at, stopped_at))
    await dossiers.resume_clock(conn, dossier["id"], appointment)
    return {
        "stopped_at": stopped_at.astimezone(VN_TZ).isoformat() if stopped_at else None,
        "resumed_at": resumed_at.astimezone(VN_TZ).isoformat(),
        "previous_appointment_at": previous.astimezone(VN_TZ).isoformat(),
        "appointment_at": appointment.isoformat(),
    }


async def apologise(
    conn: asyncpg.Connection, dossier: asyncpg.Record, new_appointment_at: datetime, occurred_at: datetime
) -> dict[str, Any]:
    """Form 04: an overdue dossier gets a written apology and a later appointment."""
    current = dossier["appointment_at"]
    if not await dossiers.overdue_for_appointment(conn, dossier["id"], current):
        raise lifecycle.invalid(
            "apology",
            dossier["status"],
            "Chỉ gửi văn bản xin lỗi và hẹn lại (mẫu 04) cho hồ sơ đã quá hạn giải quyết theo ngày hẹn hiện tại.",
        )
    if new_appointment_at <= current or new_appointment_at <= occurred_at:
        raise Unprocessable(
            "Ngày hẹn mới phải sau ngày hẹn hiện tại và sau thời điểm gửi văn bản xin lỗi.",
            errors=[
                {
                    "field": "new_appointment_at",
                    "type": "event.appointment_not_later",
                    "message": "Ngày hẹn mới không sau ngày hẹn hiện tại.",
                }
            ],
        )
    await dossiers.set_appointment(conn, dossier["id"], new_appointment_at)
    return {
        "previous_appointment_at": current.astimezone(VN_TZ).isoformat(),
        "appointment_at": new_appointment_at.astimezone(VN_TZ).isoformat(),
    }
