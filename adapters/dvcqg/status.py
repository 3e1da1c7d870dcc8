"""The portal's dossier status (`TrangThaiHoSo`, 1–10) with its Vietnamese labels, and the moves between statuses
the portal accepts on an update.

The rule the simulator enforces (and the gateway can rely on):

- A dossier may be created (first synced) at any status 1–10: a sync that comes late must catch up with what
  already happened, so the portal never sees the intermediate statuses of such a dossier.
- On an update, re-sending the current status is always accepted (a retry, or a change that does not move the
  status, such as received → forwarded, both 2).
- Otherwise the new status must be reachable from the current one through STEPS, in one step or several: a sync
  worker that reads the dossier's current state may skip statuses it never saw (processing and result ready
  between two syncs arrive as 2 → 9), and that is still an honest forward move.
- Nothing leaves a final status (3 not received, 7 withdrawn, 8 stopped, 10 result returned), and nothing goes
  backwards (9 → 4, 4 → 2): the closure of STEPS has no such path.

STEPS is the one-stop lifecycle as the gateway runs it (gateway/workflow/lifecycle.py, read as DVCQG codes):
received and forwarded 2, processing 4, supplement 5 ⇄ 4, payment 6 ⇄ 4, stop 8 from 4/5/6, refusal 3 from 2,
result ready 9 from 4, returned 10 from 9, withdrawal 7 from any open status; plus 1 (registered online) → 2/3/7
for dossiers filed on the portal itself.
"""

from enum import IntEnum


class PortalStatus(IntEnum):
    REGISTERED = 1
    RECEIVED = 2
    NOT_RECEIVED = 3
    PROCESSING = 4
    SUPPLEMENT_REQUESTED = 5
    FINANCIAL_OBLIGATION = 6
    WITHDRAWN = 7
    STOPPED = 8
    PROCESSED = 9
    RESULT_RETURNED = 10


# The portal's own wording, as one-stop systems display it.
LABELS: dict[PortalStatus, str] = {
    PortalStatus.REGISTERED: "Mới đăng ký",
    PortalStatus.RECEIVED: "Được tiếp nhận",
    PortalStatus.NOT_RECEIVED: "Không được tiếp nhận",
    PortalStatus.PROCESSING: "Đang xử lý",
    PortalStatus.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung giấy tờ",
    PortalStatus.FINANCIAL_OBLIGATION: "Yêu cầu thực hiện nghĩa vụ tài chính",
    PortalStatus.WITHDRAWN: "Công dân yêu cầu rút hồ sơ",
    PortalStatus.STOPPED: "Dừng xử lý",
    PortalStatus.PROCESSED: "Đã xử lý xong",
    PortalStatus.RESULT_RETURNED: "Đã trả kết quả",
}

FINAL = frozenset(
    {PortalStatus.NOT_RECEIVED, PortalStatus.WITHDRAWN, PortalStatus.STOPPED, PortalStatus.RESULT_RETURNED}
)
OPEN = frozenset(
    {
        PortalStatus.REGISTERED,
        PortalStatus.RECEIVED,
        PortalStatus.PROCESSING,
        PortalStatus.SUPPLEMENT_REQUESTED,
        PortalStatus.FINANCIAL_OBLIGATION,
    }
)

_S = PortalStatus
STEPS: dict[PortalStatus, frozenset[PortalStatus]] = {
    _S.REGISTERED: frozenset({_S.RECEIVED, _S.NOT_RECEIVED, _S.WITHDRAWN}),
    _S.RECEIVED: frozenset({_S.NOT_RECEIVED, _S.PROCESSING, _S.SUPPLEMENT_REQUESTED, _S.WITHDRAWN}),
    _S.PROCESSING: frozenset(
        {_S.SUPPLEMENT_REQUESTED, _S.FINANCIAL_OBLIGATION, _S.STOPPED, _S.PROCESSED, _S.WITHDRAWN}
    ),
    _S.SUPPLEMENT_REQUESTED: frozenset({_S.PROCESSING, _S.STOPPED, _S.WITHDRAWN}),
    _S.FINANCIAL_OBLIGATION: frozenset({_S.PROCESSING, _S.STOPPED, _S.WITHDRAWN}),
    _S.PROCESSED: frozenset({_S.RESULT_RETURNED}),
    **{final: frozenset() for final in FINAL},
}


def _reachable(start: PortalStatus) -> frozenset[PortalStatus]:
    seen: set[PortalStatus] = set()
    todo = list(STEPS[start])
    while todo:
        status = todo.pop()
        if status not in seen:
            seen.add(status)
            todo.extend(STEPS[status])
    return frozenset(seen)


REACHABLE: dict[PortalStatus, frozenset[PortalStatus]] = {status: _reachable(status) for status in PortalStatus}


def is_status(value: object) -> bool:
    """Whether `value` is a status code 1–10 (an int, not a bool, not digits)."""
    return isinstance(value, int) and not isinstance(value, bool) and value in PortalStatus._value2member_map_


def label(code: int) -> str:
    """The Vietnamese label of a status code; an unknown code is named, never guessed."""
    return LABELS[PortalStatus(code)] if is_status(code) else f"Trạng thái {code}"


def can_move(current: int, new: int) -> bool:
    """Whether an update may take a dossier from `current` to `new` (see the module docstring); an unknown code
    never moves."""
    if not is_status(current) or not is_status(new):
        return False
    return current == new or PortalStatus(new) in REACHABLE[PortalStatus(current)]


def transition_problem(current: int, new: int) -> str | None:
    """None when the move is accepted, else the portal's reason, in Vietnamese."""
    if not is_status(new):
        return f"Trạng thái hồ sơ (TrangThaiHoSo) phải là số từ 1 đến 10: {new}."
    if can_move(current, new):
        return None
    if current in FINAL:
        return f"Hồ sơ đã ở trạng thái kết thúc '{label(current)}', không thể chuyển sang trạng thái '{label(new)}'."
    return f"Không thể chuyển hồ sơ từ trạng thái '{label(current)}' về trạng thái '{label(new)}'."
