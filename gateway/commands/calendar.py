"""`motcua calendar` (announced days off, public holidays) and `motcua due` (the appointment a dossier gets).

Days off added here are stored in the database; every running gateway process reloads them within
MOTCUA_DAYS_OFF_REFRESH_SECONDS, without a restart.
"""

import argparse
import asyncio
import getpass
import json
import sys
from datetime import date, datetime, timedelta

import asyncpg

from gateway import runtime
from gateway.calendar_refresh import SETTINGS_REASON, build_calendar
from gateway.settings import Settings
from gateway.store import days_off
from mapping import MappingError, WorkingCalendar, load_catalog
from mapping.calendar import HOURS_PER_WORKING_DAY, VN_TZ, WEEKDAY_NAMES

DEFAULT_POSTAL_TRANSIT_HOURS = 16.0  # two working days from post office to agency: an assumption, not a rule
UNITS = {"working_days": "ngày làm việc", "working_hours": "giờ làm việc", "calendar_days": "ngày (theo lịch)"}
CHANNELS = {"counter": "tại quầy", "postal": "qua bưu chính", "online": "trực tuyến"}


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"không phải ngày YYYY-MM-DD: {text!r}") from None


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"không phải thời điểm ISO 8601 (2026-02-13T16:30): {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=VN_TZ)


def _operator() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _show_day(day: date) -> str:
    return f"{day.isoformat()} ({WEEKDAY_NAMES[day.weekday()]})"


def _show_moment(moment: datetime) -> str:
    local = moment.astimezone(VN_TZ)
    return f"{local.isoformat(timespec='minutes')} ({WEEKDAY_NAMES[local.weekday()]} {local:%d/%m/%Y %H:%M})"


# --- motcua calendar ---------------------------------------------------------------------------------------


def cmd_calendar(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> int:
        if args.action == "add-day-off":
            return await _add(conn, settings, args)
        if args.action == "remove-day-off":
            if not await days_off.remove_day_off(conn, args.day):
                print(f"{_show_day(args.day)} không phải ngày nghỉ đã lưu.", file=sys.stderr)
                return 1
            print(f"Đã xóa ngày nghỉ {_show_day(args.day)}. {_propagation(settings)}")
            return 0
        _list(settings, await days_off.list_days_off(conn), args.year)
        return 0

    reason = getattr(args, "reason", None)
    if reason is not None and not reason.strip():
        print("--reason không được để trống.", file=sys.stderr)
        return 2
    with runtime.database(settings) as settings:  # the schema is brought up to date first
        return asyncio.run(runtime.with_connection(settings.database_url, work))


def _propagation(settings: Settings) -> str:
    return f"Các tiến trình gateway đang chạy áp dụng trong vòng {settings.days_off_refresh_seconds:g} giây."


async def _add(conn: asyncpg.Connection, settings: Settings, args: argparse.Namespace) -> int:
    reason = args.reason.strip()
    if not await days_off.add_day_off(conn, args.day, reason, args.added_by):
        stored = await conn.fetchval("SELECT reason FROM days_off WHERE day = $1", args.day)
        if stored == reason:
            print(f"{_show_day(args.day)} đã là ngày nghỉ đã lưu: {stored}")
            return 0
        print(
            f"{_show_day(args.day)} đã là ngày nghỉ đã lưu với lý do khác: {stored!r}. "
            "Xóa (remove-day-off) rồi thêm lại để đổi lý do.",
            file=sys.stderr,
        )
        return 1
    print(f"Đã thêm ngày nghỉ {_show_day(args.day)}: {reason}. {_propagation(settings)}")
    already = WorkingCalendar().day_off_reason(args.day)
    if already:
        print(f"Lưu ý: ngày này vốn đã không phải ngày làm việc ({already}).")
    if args.day < datetime.now(VN_TZ).date():
        print("Lưu ý: ngày đã qua; chỉ hồ sơ tính hạn từ nay mới bị ảnh hưởng.")
    return 0


def _list(settings: Settings, stored: list[asyncpg.Record], year: int) -> None:
    print("Ngày nghỉ đã lưu (motcua calendar add-day-off):")
    for row in stored:
        by = f", thêm bởi {row['added_by']}" if row["added_by"] else ""
        print(f"  {_show_day(row['day'])}  {row['reason']}  [{row['added_at'].astimezone(VN_TZ):%d/%m/%Y %H:%M}{by}]")
    if not stored:
        print("  (chưa có)")
    if settings.extra_days_off:
        print(f"{SETTINGS_REASON}:")
        for day in sorted(settings.extra_days_off):
            print(f"  {_show_day(day)}")
    calendar = WorkingCalendar()
    print(f"Ngày lễ, Tết năm {year} (gói holidays, kể cả ngày nghỉ bù và ngày nghỉ hoán đổi):")
    for day, name in calendar.public_holidays(year):
        print(f"  {_show_day(day)}  {name}")
    swapped = calendar.swapped_workdays(year)
    print(f"Ngày cuối tuần đi làm bù năm {year}:")
    for day in swapped:
        print(f"  {_show_day(day)}  làm việc")
    if not swapped:
        print("  (không có)")


# --- motcua due --------------------------------------------------------------------------------------------


def _stored_days_off(settings: Settings) -> dict[date, str] | None:
    """The stored days off, or None (with a warning) when no database can be reached."""
    try:
        with runtime.database(settings) as settings:
            return asyncio.run(runtime.with_connection(settings.database_url, days_off.days_off_reasons))
    except Exception as exc:  # any failure: compute without them, and say so
        print(
            f"Cảnh báo: không đọc được ngày nghỉ đã lưu ({type(exc).__name__}: {exc}); "
            "tính hạn chỉ với ngày lễ và MOTCUA_EXTRA_DAYS_OFF.",
            file=sys.stderr,
        )
        return None


def cmd_due(settings: Settings, args: argparse.Namespace) -> int:
    received = args.received or datetime.now(VN_TZ)
    received_day = received.astimezone(VN_TZ).date()
    try:
        procedure = load_catalog(settings.catalog_dir).procedure(args.procedure, received_day)
    except MappingError as error:
        print(f"Không tính được hạn ({error.code}): {error.message}", file=sys.stderr)
        return 1
    if args.transit_hours < 0:
        print("--transit-hours không được âm.", file=sys.stderr)
        return 2
    stored = _stored_days_off(settings)
    calendar = build_calendar(settings, stored or {})
    processing, cutoff = procedure.processing, procedure.same_day_cutoff
    transit = timedelta(hours=args.transit_hours) if args.channel == "postal" else timedelta(0)
    if args.channel == "postal":
        due = calendar.postal_estimate(received, processing, cutoff, transit)
        arrival = calendar.add_working_time(received, transit) if transit else received
    else:
        due = calendar.appointment(received, processing, cutoff)
        arrival = received
    skipped = [
        (day, calendar.day_off_reason(day) or "")
        for day in calendar.days_off_between(received_day, due.astimezone(VN_TZ).date())
    ]
    if args.json:
        print(
            json.dumps(
                {
                    "procedure_code": procedure.code,
                    "procedure_version": procedure.effective_from.isoformat(),
                    "received_at": received.astimezone(VN_TZ).isoformat(),
                    "channel": args.channel,
                    "estimate": args.channel == "postal",
                    "postal_transit_working_hours": transit / timedelta(hours=1),
                    "counted_from": arrival.astimezone(VN_TZ).isoformat(),
                    "unit": processing.unit,
                    "amount": processing.amount,
                    "same_day_cutoff": cutoff.isoformat() if cutoff else None,
                    "days_skipped": [{"day": day.isoformat(), "reason": why} for day, why in skipped],
                    "stored_days_off_included": stored is not None,
                    "appointment_at": due.astimezone(VN_TZ).isoformat(),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    print(f"Thủ tục {procedure.code} — {procedure.name} (bản áp dụng từ {procedure.effective_from:%d/%m/%Y})")
    print(f"Tiếp nhận {CHANNELS[args.channel]}: {_show_moment(received)}")
    rule = f"{processing.amount:g} {UNITS[processing.unit]}"
    if processing.unit == "working_days":
        rule += f" = {processing.amount * HOURS_PER_WORKING_DAY:g} giờ làm việc (07:00–11:30, 13:30–17:00)"
    if cutoff:
        rule = f"trả trong ngày nếu tiếp nhận trước {cutoff:%H:%M}, sau đó trả ngày làm việc kế tiếp (17:00)"
    print(f"Quy tắc: {rule}")
    if args.channel == "postal":
        print(
            f"Ước tính: thời gian chuyển phát không tính vào thời hạn giải quyết; giả định hồ sơ đến cơ quan sau "
            f"{args.transit_hours:g} giờ làm việc ({_show_moment(arrival)}). Thời hạn chính thức tính từ khi cơ "
            "quan xác nhận đã nhận hồ sơ giấy."
        )
        if not procedure.postal_intake:
            print("Lưu ý: thủ tục này không nhận hồ sơ qua bưu chính.")
    print("Ngày nghỉ đã bỏ qua:" if skipped else "Ngày nghỉ đã bỏ qua: không có")
    for day, why in skipped:
        print(f"  {_show_day(day)}  {why}")
    if stored is not None:
        print(f"Đã gồm {len(stored)} ngày nghỉ đã lưu trong cơ sở dữ liệu.")
    print(f"Hẹn trả{' (ước tính)' if args.channel == 'postal' else ''}: {_show_moment(due)}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    calendar = commands.add_parser("calendar", help="working calendar: announced days off, public holidays")
    calendar.set_defaults(func=cmd_calendar)
    actions = calendar.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add-day-off", help="store an announced day off (all gateways apply it)")
    add.add_argument("day", type=_day, help="YYYY-MM-DD")
    add.add_argument("--reason", required=True, help="e.g. the announcement that grants it")
    add.add_argument("--added-by", default=_operator(), help="who adds it (default: the system user)")
    remove = actions.add_parser("remove-day-off", help="remove a stored day off")
    remove.add_argument("day", type=_day, help="YYYY-MM-DD")
    listing = actions.add_parser("list", help="stored days off, and the public holidays of a year")
    listing.add_argument("--year", type=int, default=datetime.now(VN_TZ).year, help="default: this year")

    due = commands.add_parser("due", help="the appointment date for a procedure and a receipt time, with the rule")
    due.add_argument("procedure", help="procedure code, e.g. 2.000488")
    due.add_argument("--received", type=_moment, help="receipt time, ISO 8601, Vietnam time unless an offset is given")
    due.add_argument("--channel", choices=tuple(CHANNELS), default="counter")
    due.add_argument(
        "--transit-hours",
        type=float,
        default=DEFAULT_POSTAL_TRANSIT_HOURS,
        help=f"postal channel: working hours assumed in transit (default {DEFAULT_POSTAL_TRANSIT_HOURS:g})",
    )
    due.add_argument("--json", action="store_true", help="print the computation as JSON")
    due.set_defaults(func=cmd_due)
