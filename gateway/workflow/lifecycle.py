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


FINISHED = frozenset({"withdrawn", "stopped", "refused", "returned"})
# Not finished, result not yet ready: what a withdrawal, a stop or an overdue dossier may come from.
OPEN = frozenset({"received", "forwarded", "processing", "supplement_requested", "payment_requested"})

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
        # Form 02: the clock stops until the supplement arrives.
        Transition(
            "supplement_requested",
            "Cơ quan yêu cầu bổ sung, hoàn thiện hồ sơ; tạm dừng tính thời hạn giải quyết",
            frozenset({"received", "forwarded", "processing"}),
            "supplement_requested",
        ),
        Transition(
            "supplement_received",
            "Đã nhận hồ sơ bổ sung; tiếp tục tính thời hạn giải quyết",
            frozenset({"supplement_requested"}),
            "processing",
        ),
        Transition(
            "payment_requested",
            "Cơ quan yêu cầu thực hiện nghĩa vụ tài chính",
            frozenset({"processing"}),
            "payment_requested",
        ),
        Transition(
            "payment_received", "Đã hoàn thành nghĩa vụ tài chính", frozenset({"payment_requested"}), "processing"
        ),
        # Form 05: stopping a dossier already taken into processing.
        Transition(
            "stopped",
            "Cơ quan dừng xử lý hồ sơ",
            frozenset({"processing", "supplement_requested", "payment_requested"}),
            "stopped",
        ),
        # Refusal happens on examination, before the agency starts processing.
        Transition("refused", "Cơ quan từ chối tiếp nhận hồ sơ", frozenset({"received", "forwarded"}), "refused"),
        Transition("result_ready", "Đã có kết quả giải quyết", frozenset({"processing"}), "result_ready"),
        Transition("returned", "Đã trả kết quả cho công dân", frozenset({"result_ready"}), "returned"),
        Transition("withdrawn", "Công dân rút hồ sơ", OPEN, "withdrawn"),
        # Composite procedures: every step of an order has its result; the next order's agencies get it.
        Transition("transferred", "Chuyển hồ sơ liên thông đến cơ quan giải quyết bước tiếp theo", OPEN, None),
        # Digitised documents (files of declared components, and the agencies' result documents).
        Transition("document_received", "Đã nhận bản điện tử thành phần hồ sơ", OPEN, None),
        Transition("result_uploaded", "Cơ quan đã tải lên văn bản kết quả", OPEN, None),
        # The mailed result (adapters/postal): ordered from VNPost; back at the counter if undeliverable.
        Transition(
            "result_mailed",
            "Đã gửi kết quả qua bưu điện (VNPost) đến địa chỉ công dân chọn",
            frozenset({"result_ready"}),
            None,
        ),
        Transition(
            "result_back_at_counter",
            "Bưu điện không phát được và đã chuyển hoàn kết quả; mời công dân nhận tại nơi đã nộp hồ sơ",
            frozenset({"result_ready"}),
            None,
        ),
        Transition("overdue", "Hồ sơ đã quá hạn giải quyết", OPEN, None),
        # Form 04: only on an overdue dossier (checked by the caller), with a later appointment.
        Transition("apology", "Cơ quan gửi văn bản xin lỗi và hẹn lại ngày trả kết quả", OPEN, None),
    )
}
# What an agency reports through POST /v1/agency/dossiers/{code}/events.
AGENCY_EVENTS = (
    "physical_received",
    "accepted",
    "supplement_requested",
    "payment_requested",
    "payment_received",
    "stopped",
    "refused",
    "result_ready",
    "returned",
    "apology",
)


def invalid(event: str, current: str, detail: str | None = None) -> Conflict:
    transition = TRANSITIONS[event]
    return Conflict(
        detail or f"Không thể ghi nhận '{transition.label}' khi hồ sơ đang ở trạng thái '{STATUSES[current].label}'.",
        code="dossier.invalid_transition",
        extra={"current_status": current, "event": event},
    )


def apply(event: str, current: str) -> Transition:
    transition = TRANSITIONS[event]
    if current not in transition.allowed_from:
        raise invalid(event, current)
    return transition
