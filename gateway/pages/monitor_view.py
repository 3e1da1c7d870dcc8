"""The monitoring page's figures, shaped from what PostgreSQL answered (pure: no I/O).

One shape serves both the page and its JSON: the raw numbers for machines and tests, and under `display` the
same figures written in Vietnamese, which the template renders and the page's script copies in when it polls.
The script formats nothing itself, so the page looks the same before and after an update.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.store import outbox
from mapping import Catalog
from mapping.calendar import VN_TZ
from mapping.directory import province_names

WINDOWS = (7, 30, 90)  # days: ?ngay=
DEFAULT_WINDOW = 30
OVERDUE_LIMIT = 200
DEAD_LIMIT = 20
SYNC_FAILED_LIMIT = 20
ERROR_CHARS = 200  # of a last error: enough to recognise it; the whole text is in `motcua outbox`

KIND_LABELS = {
    outbox.AGENCY_DELIVER: "Chuyển hồ sơ đến cơ quan giải quyết",
    outbox.DVCQG_SYNC: "Đồng bộ Cổng Dịch vụ công quốc gia",
    outbox.DVCQG_FETCH_DOCUMENT: "Tải tệp hồ sơ trực tuyến từ Cổng DVCQG",
    outbox.IDENTITY_VERIFY: "Xác thực với CSDL quốc gia về dân cư",
    outbox.POSTAL_RESULT_ORDER: "Gửi kết quả qua bưu điện (VNPost)",
}
ONLINE = "Trực tuyến (Cổng DVCQG)"
NO_PLACE = "Không rõ nơi nộp"
CENTRAL = "Cơ quan trung ương"
UNKNOWN_PROVINCE = "Không rõ tỉnh"


@dataclass(frozen=True)
class Readings:
    """What one request read, in one snapshot (gateway/store/monitoring.py and the /metrics queries)."""

    now: datetime
    window_days: int
    finished: list[Mapping[str, Any]]
    overdue_groups: list[Mapping[str, Any]]
    overdue_total: int
    overdue: list[Mapping[str, Any]]
    backlog: list[Mapping[str, Any]]
    dead: list[Mapping[str, Any]]
    sync_failed_total: int
    sync_failed: list[Mapping[str, Any]]


# Tables: the key in `display.tables`, and the columns: heading, and the class of its cells ("so": a number,
# right-aligned; "ma-so": a code, kept on one line; "": text).
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "agencies": [
        ("Cơ quan giải quyết", ""),
        ("Tỉnh", ""),
        ("Đã giải quyết", "so"),
        ("Đúng hạn", "so"),
        ("Trễ hạn", "so"),
        ("Tỷ lệ đúng hạn", "so"),
        ("Đang quá hạn", "so"),
    ],
    "provinces": [
        ("Tỉnh, thành phố (nơi cơ quan giải quyết)", ""),
        ("Đã giải quyết", "so"),
        ("Đúng hạn", "so"),
        ("Trễ hạn", "so"),
        ("Tỷ lệ đúng hạn", "so"),
        ("Đang quá hạn", "so"),
    ],
    "filed_provinces": [
        ("Nơi nộp hồ sơ", ""),
        ("Đã giải quyết", "so"),
        ("Đúng hạn", "so"),
        ("Trễ hạn", "so"),
        ("Tỷ lệ đúng hạn", "so"),
        ("Đang quá hạn", "so"),
    ],
    "overdue": [
        ("Mã hồ sơ", "ma-so"),
        ("Thủ tục", ""),
        ("Cơ quan giải quyết", ""),
        ("Ngày hẹn trả", ""),
        ("Quá hạn", "so"),
        ("Đã ghi nhận quá hạn", ""),
        ("Văn bản xin lỗi (mẫu 04)", ""),
    ],
    "dead_by_kind": [("Loại công việc", ""), ("Số thông điệp", "so")],
    "dead": [
        ("Loại công việc", ""),
        ("Mã hồ sơ", "ma-so"),
        ("Số lần thử", "so"),
        ("Lỗi cuối cùng", ""),
        ("Tạo lúc", ""),
    ],
    "lag": [("Hàng đợi", ""), ("Đang chờ", "so"), ("Chờ lâu nhất", "so"), ("Không gửi được", "so")],
    "sync_failed": [("Mã hồ sơ", "ma-so"), ("Lỗi đồng bộ lần cuối", ""), ("Đồng bộ thành công lần cuối", "")],
}
EMPTY = {
    "agencies": "Chưa có hồ sơ nào có kết quả trong khoảng thời gian này.",
    "provinces": "Chưa có hồ sơ nào có kết quả trong khoảng thời gian này.",
    "filed_provinces": "Chưa có hồ sơ nào có kết quả trong khoảng thời gian này.",
    "overdue": "Không có hồ sơ quá hạn.",
    "dead_by_kind": "Không có thông điệp nào bị dừng gửi.",
    "dead": "Không có thông điệp nào bị dừng gửi.",
    "lag": "",
    "sync_failed": "Không có hồ sơ đồng bộ lỗi.",
}


def window(value: str | None) -> int:
    """?ngay=7|30|90; anything else is the default window (a page answers, it does not refuse)."""
    return int(value) if value in {str(days) for days in WINDOWS} else DEFAULT_WINDOW


def number(value: int) -> str:
    """1.234: Vietnamese digit grouping."""
    return f"{value:,}".replace(",", ".")


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1f}".replace(".", ",") + " %"


def duration(seconds: float | None) -> str:
    """How long, in the two largest units: '3 ngày 4 giờ', '2 giờ 5 phút', '40 giây'; '—' for nothing waiting."""
    if seconds is None:
        return "—"
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "ngày"), (hours, "giờ"), (minutes, "phút"), (secs, "giây")]
    first = next((i for i, (amount, _) in enumerate(parts) if amount), len(parts) - 1)
    shown = [f"{amount} {unit}" for amount, unit in parts[first : first + 2] if amount]
    return " ".join(shown) or "0 giây"


def moment(value: datetime | None, *, seconds: bool = False) -> str:
    """'14:30 ngày 22/11/2026' in Vietnam time (with seconds for the time of the last update)."""
    if value is None:
        return "—"
    local = value.astimezone(VN_TZ)
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{clock} ngày {local:%d/%m/%Y}"


def _rate(on_time: int, finished: int) -> float | None:
    return round(100 * on_time / finished, 1) if finished else None


class _Tally:
    """Finished, on time and overdue counts of one group (an agency, a province)."""

    def __init__(self) -> None:
        self.finished = self.on_time = self.overdue = 0

    def figures(self) -> dict[str, Any]:
        late = self.finished - self.on_time
        return {
            "finished": self.finished,
            "on_time": self.on_time,
            "late": late,
            "rate": _rate(self.on_time, self.finished),
            "overdue": self.overdue,
        }


def _filed_place(row: Mapping[str, Any]) -> tuple[str, str]:
    if row["online"]:
        return "online", ONLINE
    if row["filed_province_code"] is None:
        return "", NO_PLACE
    return row["filed_province_code"], row["filed_province_name"] or row["filed_province_code"]


def _tally(
    finished: Iterable[Mapping[str, Any]], overdue: Iterable[Mapping[str, Any]], key
) -> dict[tuple[str, str], _Tally]:
    groups: dict[tuple[str, str], _Tally] = {}
    for row in finished:
        tally = groups.setdefault(key(row), _Tally())
        tally.finished += row["finished"]
        tally.on_time += row["on_time"]
    for row in overdue:
        groups.setdefault(key(row), _Tally()).overdue += row["overdue"]
    return groups


def _worst_first(rows: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """Lowest on-time rate first, then most overdue: what needs an operator's attention comes first."""
    return sorted(rows, key=lambda r: (r["rate"] is None, r["rate"] or 0, -r["overdue"], r[name]))


def shape(readings: Readings, catalog: Catalog) -> dict[str, Any]:
    """The figures of one request, raw and as displayed."""
    provinces = province_names()

    def agency_name(code: str) -> str:
        agency = catalog.agencies.get(code)
        return agency.name if agency else code

    def agency_province(code: str) -> tuple[str, str]:
        agency = catalog.agencies.get(code)
        if agency is None:
            return "", UNKNOWN_PROVINCE
        if agency.province_code is None:
            return "central", CENTRAL
        return agency.province_code, provinces.get(agency.province_code, agency.province_code)

    by_agency = _tally(readings.finished, readings.overdue_groups, lambda r: (r["agency_code"], ""))
    by_province = _tally(readings.finished, readings.overdue_groups, lambda r: agency_province(r["agency_code"]))
    by_filing = _tally(readings.finished, readings.overdue_groups, _filed_place)
    total = _Tally()
    for tally in by_agency.values():
        total.finished, total.on_time = total.finished + tally.finished, total.on_time + tally.on_time
    total.overdue = readings.overdue_total

    agencies = _worst_first(
        [
            {"agency_code": code, "name": agency_name(code), "province": agency_province(code)[1]} | t.figures()
            for (code, _), t in by_agency.items()
        ],
        "name",
    )
    agency_provinces = _worst_first(
        [{"province_code": code, "province": name} | t.figures() for (code, name), t in by_province.items()],
        "province",
    )
    filed_provinces = _worst_first(
        [{"province_code": code, "province": name} | t.figures() for (code, name), t in by_filing.items()],
        "province",
    )
    overdue = [
        {
            "code": row["code"],
            "procedure_code": row["procedure_code"],
            "procedure": row["procedure_name"] or row["procedure_code"],
            "agency_code": row["agency_code"],
            "agency": row["agency_name"] or agency_name(row["agency_code"]),
            "appointment_at": row["appointment_at"],
            "late_seconds": round((readings.now - row["appointment_at"]).total_seconds()),
            "overdue_marked": row["overdue_marked"],
            "apologies": row["apologies"],
        }
        for row in readings.overdue
    ]

    pending = {r["kind"]: r for r in readings.backlog if r["status"] == "pending"}
    dead_counts = {r["kind"]: r["messages"] for r in readings.backlog if r["status"] == "dead"}

    def queue(kind: str) -> dict[str, Any]:
        row = pending.get(kind)
        oldest = row["oldest_seconds"] if row else None
        return {
            "pending": row["messages"] if row else 0,
            "oldest_seconds": round(max(0.0, oldest)) if oldest is not None else None,
            "dead": dead_counts.get(kind, 0),
        }

    dead_by_kind = [
        {"kind": kind, "label": KIND_LABELS.get(kind, kind), "messages": count}
        for kind, count in sorted(dead_counts.items(), key=lambda item: (-item[1], item[0]))
    ]
    dead = [
        {
            "message_id": str(row["message_id"]),
            "kind": row["kind"],
            "label": KIND_LABELS.get(row["kind"], row["kind"]),
            "dossier_code": row["dossier_code"],
            "attempts": row["attempts"],
            "last_error": _shorten(row["last_error"]),
            "created_at": row["created_at"],
        }
        for row in readings.dead
    ]
    sync_failed = [
        {"dossier_code": row["code"], "last_error": _shorten(row["last_error"]), "synced_at": row["synced_at"]}
        for row in readings.sync_failed
    ]
    portal, delivery = queue(outbox.DVCQG_SYNC), queue(outbox.AGENCY_DELIVER)
    raw = {
        "generated_at": readings.now,
        "window_days": readings.window_days,
        "totals": total.figures(),
        "agencies": agencies,
        "provinces": agency_provinces,
        "filed_provinces": filed_provinces,
        "overdue": {"total": readings.overdue_total, "limit": OVERDUE_LIMIT, "items": overdue},
        "dead_letters": {"total": sum(dead_counts.values()), "by_kind": dead_by_kind, "latest": dead},
        "sync": {
            "portal": portal,
            "delivery": delivery,
            "failed_total": readings.sync_failed_total,
            "failed": sync_failed,
        },
    }
    return raw | {"display": _display(raw)}


def _shorten(text: str | None) -> str:
    if not text:
        return ""
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def _figure_cells(row: Mapping[str, Any]) -> list[str]:
    return [
        number(row["finished"]),
        number(row["on_time"]),
        number(row["late"]),
        percent(row["rate"]),
        number(row["overdue"]),
    ]


def _warn(row: Mapping[str, Any]) -> str:
    return "canh-bao" if row["late"] or row["overdue"] else ""


def _yes(flag: bool) -> str:
    return "Có" if flag else "Chưa"


def _display(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What the page shows: `figures` by the name of the element holding them, `tables` as rows of cells."""
    totals, sync, dead_letters = raw["totals"], raw["sync"], raw["dead_letters"]
    overdue = raw["overdue"]
    portal, delivery = sync["portal"], sync["delivery"]
    shown_overdue = len(overdue["items"])
    figures = {
        "updated": moment(raw["generated_at"], seconds=True),
        "rate": percent(totals["rate"]),
        "finished": number(totals["finished"]),
        "on_time": number(totals["on_time"]),
        "late": number(totals["late"]),
        "overdue": number(overdue["total"]),
        "overdue_shown": (
            f"Hiển thị {number(shown_overdue)} hồ sơ quá hạn lâu nhất trong tổng số {number(overdue['total'])}."
            if overdue["total"] > shown_overdue
            else f"Tổng số {number(overdue['total'])} hồ sơ."
        ),
        "dead": number(dead_letters["total"]),
        "portal_pending": number(portal["pending"]),
        "portal_oldest": duration(portal["oldest_seconds"]),
        "delivery_pending": number(delivery["pending"]),
        "delivery_oldest": duration(delivery["oldest_seconds"]),
        "sync_failed": number(sync["failed_total"]),
    }
    tables = {
        "agencies": [
            {"cells": [r["name"], r["province"], *_figure_cells(r)], "class": _warn(r)} for r in raw["agencies"]
        ],
        "provinces": [{"cells": [r["province"], *_figure_cells(r)], "class": _warn(r)} for r in raw["provinces"]],
        "filed_provinces": [
            {"cells": [r["province"], *_figure_cells(r)], "class": _warn(r)} for r in raw["filed_provinces"]
        ],
        "overdue": [
            {
                "cells": [
                    r["code"],
                    r["procedure"],
                    r["agency"],
                    moment(r["appointment_at"]),
                    duration(r["late_seconds"]),
                    _yes(r["overdue_marked"]),
                    f"Có ({r['apologies']} lần)" if r["apologies"] else "Chưa",
                ],
                "class": "",
            }
            for r in overdue["items"]
        ],
        "dead_by_kind": [{"cells": [r["label"], number(r["messages"])], "class": ""} for r in dead_letters["by_kind"]],
        "dead": [
            {
                "cells": [
                    r["label"],
                    r["dossier_code"] or "—",
                    number(r["attempts"]),
                    r["last_error"],
                    moment(r["created_at"]),
                ],
                "class": "",
            }
            for r in dead_letters["latest"]
        ],
        "lag": [
            {
                "cells": [KIND_LABELS[kind], number(q["pending"]), duration(q["oldest_seconds"]), number(q["dead"])],
                "class": "canh-bao" if q["dead"] else "",
            }
            for kind, q in ((outbox.DVCQG_SYNC, portal), (outbox.AGENCY_DELIVER, delivery))
        ],
        "sync_failed": [
            {"cells": [r["dossier_code"], r["last_error"], moment(r["synced_at"])], "class": ""} for r in sync["failed"]
        ],
    }
    return {"figures": figures, "tables": tables}
