"""The legal clock of a dossier: when it starts, and the appointment it gives."""

from datetime import datetime
from typing import Any

import asyncpg

from gateway.errors import Conflict
from gateway.keys import Services
from gateway.store import dossiers
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
