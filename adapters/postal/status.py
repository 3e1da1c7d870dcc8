"""VNPost item status codes (0–22, and 101–111 for the UPU EMS events EMA–EMK) mapped to one unified set, and
the rule that folds an item's events into its current status.

The unified set is what the gateway and the citizen see; VNPost's own code and name are kept beside it in
every stored event. An unknown code maps to `in_transit`: never a final status, so a code we do not know
cannot close a dossier or send a result back to the counter.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Unified(StrEnum):
    CREATED = "created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    AT_POST_OFFICE = "at_post_office"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    RETURNING = "returning"
    RETURNED_TO_SENDER = "returned_to_sender"
    CANCELLED = "cancelled"
    COD_PAID = "cod_paid"


LABELS: dict[Unified, str] = {
    Unified.CREATED: "Đã tạo đơn gửi",
    Unified.PICKED_UP: "Bưu điện đã nhận bưu gửi",
    Unified.IN_TRANSIT: "Đang vận chuyển",
    Unified.AT_POST_OFFICE: "Đã đến bưu cục phát",
    Unified.OUT_FOR_DELIVERY: "Đang phát cho người nhận",
    Unified.DELIVERED: "Đã phát thành công",
    Unified.DELIVERY_FAILED: "Phát không thành công",
    Unified.RETURNING: "Đang chuyển hoàn",
    Unified.RETURNED_TO_SENDER: "Đã chuyển hoàn về nơi gửi",
    Unified.CANCELLED: "Đã hủy đơn gửi",
    Unified.COD_PAID: "Đã trả tiền thu hộ (COD)",
}

# VNPost code → (its meaning, unified status). 2–9 are the collection stages and 16–19 the return stages of
# VNPost's public table; we read collection as "picked up" and the last return stage as "returned".
CODES: dict[int, tuple[str, Unified]] = {
    0: ("Đơn nháp", Unified.CREATED),
    1: ("Đã tạo đơn", Unified.CREATED),
    **{code: (f"Thu gom, bước {code - 1}", Unified.PICKED_UP) for code in range(2, 10)},
    10: ("Đang vận chuyển", Unified.IN_TRANSIT),
    11: ("Đến bưu cục", Unified.AT_POST_OFFICE),
    12: ("Đang phát", Unified.OUT_FOR_DELIVERY),
    13: ("Chuyển tiếp", Unified.IN_TRANSIT),
    14: ("Phát thành công", Unified.DELIVERED),
    15: ("Phát không thành công", Unified.DELIVERY_FAILED),
    16: ("Chuyển hoàn, bước 1", Unified.RETURNING),
    17: ("Chuyển hoàn, bước 2", Unified.RETURNING),
    18: ("Chuyển hoàn, bước 3", Unified.RETURNING),
    19: ("Đã chuyển hoàn", Unified.RETURNED_TO_SENDER),
    20: ("Chuyển hoàn một phần", Unified.RETURNED_TO_SENDER),
    21: ("Đã trả tiền COD", Unified.COD_PAID),
    22: ("Hủy", Unified.CANCELLED),
    # UPU EMSEVT events, as VNPost numbers them.
    101: ("EMA: nhận gửi", Unified.PICKED_UP),
    102: ("EMB: đến bưu cục ngoại dịch đi", Unified.IN_TRANSIT),
    103: ("EMC: rời bưu cục ngoại dịch đi", Unified.IN_TRANSIT),
    104: ("EMD: đến bưu cục ngoại dịch đến", Unified.IN_TRANSIT),
    105: ("EME: hải quan giữ", Unified.IN_TRANSIT),
    106: ("EMF: rời bưu cục ngoại dịch đến", Unified.IN_TRANSIT),
    107: ("EMG: đến bưu cục phát", Unified.AT_POST_OFFICE),
    108: ("EMH: phát không thành công", Unified.DELIVERY_FAILED),
    109: ("EMI: phát thành công", Unified.DELIVERED),
    110: ("EMJ: đến bưu cục trung chuyển", Unified.IN_TRANSIT),
    111: ("EMK: rời bưu cục trung chuyển", Unified.IN_TRANSIT),
}

FINAL = frozenset({Unified.DELIVERED, Unified.RETURNED_TO_SENDER, Unified.CANCELLED})


def unified(code: int) -> Unified:
    """The unified status of a VNPost code; unknown codes are `in_transit` (see the module docstring)."""
    return CODES[code][1] if code in CODES else Unified.IN_TRANSIT


def vnpost_name(code: int) -> str:
    return CODES[code][0] if code in CODES else f"Mã trạng thái {code}"


@dataclass(frozen=True, slots=True)
class ItemEvent:
    """One tracking event of an item, as stored. VNPost's times have whole seconds: events of the same second
    keep the order they arrived in (`arrival`), which is VNPost's order unless a callback was delayed."""

    occurred_at: datetime
    code: int
    arrival: int = 0

    @property
    def status(self) -> Unified:
        return unified(self.code)


def current(events: Iterable[ItemEvent]) -> Unified | None:
    """The item's delivery status from its events in any arrival order: they are taken by event time, and a
    final status (delivered, returned to sender, cancelled) stays once reached: a late or mistaken "in
    transit" never undoes it. COD paid is a payment, not a delivery step: it never changes the status."""
    status: Unified | None = None
    for event in sorted(events, key=lambda e: (e.occurred_at, e.arrival)):
        if event.status is Unified.COD_PAID or status in FINAL:
            continue
        status = event.status
    return status
