"""Dossier statuses, their DVCQG `TrangThaiHoSo` codes, and the events that move between them.

An event not allowed from the current status is a 409 `dossier.invalid_transition`.
"""

from dataclasses import dataclass

from gateway.errors import Conflict


@dataclass(frozen=True)
class Status:
    name: str
    dvcqg: int
    label: str


STATUSES: dict[str, Status] = {
    s.name: s
    for s in (
        Status("received", 2, "Đã tiếp nhận"),
        Status("forwarded", 2, "Đã chuyển đến cơ quan giải quyết"),
        Status("processing", 4, "Đang giải quyết"),
        Status("supplement_requested", 5, "Yêu cầu bổ sung hồ sơ"),
        Status("payment_requested", 6, "Yêu cầu thực hiện nghĩa vụ tài chính"),
        Status("withdrawn", 7, "Công dân đã rút hồ sơ"),
        Status("stopped", 8, "Dừng xử lý"),
        Status("refused", 3, "Từ chối tiếp nhận"),
        Status("result_ready", 9, "Đã có kết quả"),
        Status("returned", 10, "Đã trả kết quả"),
    )
}


@dataclass(frozen=True)
class Transition:
    event: str
    label: str
    allowed_from: frozenset[str]
    to: str | None  # None: the event leaves the status as it is


TRANSITIONS: dict[str, Transition] = {
    t.event: t
    for t in (
        Transition("received", "Tiếp nhận hồ sơ", frozenset(), "received"),
        Transition("forwarded", "Cơ quan giải quyết đã nhận hồ sơ", frozenset({"received"}), "forwarded"),
        Transition(
            "physical_received",
            "Cơ quan đã nhận hồ sơ giấy do bưu điện chuyển đến; bắt đầu tính thời hạn giải quyết",
            frozenset({"received", "forwarded", "processing"}),
            None,
        ),
        Transition(
            "identity_verified",
            "Đã đối chiếu thông tin công dân với Cơ sở dữ liệu quốc gia về dân cư",
            frozenset(STATUSES),
            None,
        ),
        Transition(
            "identity_mismatch",
            "Thông tin công dân không khớp Cơ sở dữ liệu quốc gia về dân cư; cơ quan giải quyết được báo",
            frozenset(STATUSES),
            None,
        ),
        Transition("accepted", "Cơ quan bắt đầu giải quyết", frozenset({"received", "forwarded"}), "processing"),
        Transition("result_ready", "Đã có kết quả giải quyết", frozenset({"processing"}), "result_ready"),
    )
}


def apply(event: str, current: str) -> Transition:
    transition = TRANSITIONS[event]
    if current not in transition.allowed_from:
        raise Conflict(
            f"Không thể ghi nhận '{transition.label}' khi hồ sơ đang ở trạng thái '{STATUSES[current].label}'.",
            code="dossier.invalid_transition",
            extra={"current_status": current, "event": event},
        )
    return transition
