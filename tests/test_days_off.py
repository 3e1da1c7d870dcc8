"""Stored days off (real PostgreSQL): the `motcua calendar` and `motcua due` commands as child processes, and
running gateways that pick up a day off without a restart."""

import asyncio
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta

import asyncpg
from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs

from gateway.app import create_app
from gateway.keys import SERVICES
from gateway.settings import Settings
from gateway.store import days_off
from mapping import WorkingCalendar, load_catalog
from mapping.calendar import VN_TZ
from tests.processes import MOTCUA, motcua_env
from tests.samples import postal_dossier

REFRESH_SECONDS = 0.2


async def motcua(db_url: str, *args: str) -> tuple[int, str, str]:
    """Run `motcua ARGS` against the test database; its exit status, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        str(MOTCUA),
        *args,
        env=motcua_env(MOTCUA_DATABASE_URL=db_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


async def test_cli_adds_lists_and_removes_days_off(db_url, db):
    """`motcua calendar add-day-off` stores a day with its reason, `list` shows it next to the year's public
    holidays and swapped Saturdays, `remove-day-off` takes it away; mistakes exit non-zero."""
    code, out, err = await motcua(db_url, "calendar", "add-day-off", "2026-11-25", "--reason", "Thông báo 9/TB-VPCP")
    assert code == 0, err
    assert "2026-11-25" in out
    row = await db.fetchrow("SELECT reason, added_by, added_at FROM days_off WHERE day = $1", date(2026, 11, 25))
    assert row["reason"] == "Thông báo 9/TB-VPCP" and row["added_at"] is not None

    again = await motcua(db_url, "calendar", "add-day-off", "2026-11-25", "--reason", "Thông báo 9/TB-VPCP")
    assert again[0] == 0, again  # the same day with the same reason: nothing to do
    other = await motcua(db_url, "calendar", "add-day-off", "2026-11-25", "--reason", "Lý do khác")
    assert other[0] == 1 and "Thông báo 9/TB-VPCP" in other[2]
    assert (await motcua(db_url, "calendar", "add-day-off", "2026-13-01", "--reason", "x"))[0] == 2
    assert (await motcua(db_url, "calendar", "add-day-off", "2026-11-26", "--reason", "  "))[0] == 2

    code, out, err = await motcua(db_url, "calendar", "list", "--year", "2026")
    assert code == 0, err
    lines = out.splitlines()
    assert any("2026-11-25" in line and "Thông báo 9/TB-VPCP" in line for line in lines), out
    assert any("2026-02-17" in line and "Tết Nguyên Đán" in line for line in lines), out
    assert any("2026-11-24" in line and "Ngày Văn hóa Việt Nam" in line for line in lines), out
    assert any("2026-08-31" in line for line in lines) and any("2026-08-22" in line for line in lines), out
    assert "2025-" not in out

    code, out, err = await motcua(db_url, "calendar", "remove-day-off", "2026-11-25")
    assert code == 0, err
    assert await db.fetchval("SELECT count(*) FROM days_off") == 0
    assert (await motcua(db_url, "calendar", "remove-day-off", "2026-11-25"))[0] == 1


async def test_due_command_prints_the_appointment_over_tet_2026(db_url, db):
    """`motcua due 2.000488 --received 2026-02-13T16:30` (criminal record certificate, 10 working days = 80
    working hours), by hand:

    - Friday 13/2/2026 16:30 → 17:00: 30 minutes (79h30 left);
    - Saturday 14 – Sunday 22/2 skipped: the weekend, Tết 16–20/2 (Giao thừa … Mùng bốn), the weekend;
    - Monday 23/2 – Thursday 5/3 (28/2–1/3 a weekend): 9 working days = 72 hours (7h30 left);
    - Friday 6/3: 07:00–11:30 (4h30) then 13:30–16:30 (3h) → due Friday 6/3/2026 16:30 (+07:00).

    With 6/3 stored as a day off the last 7h30 fall on Monday 9/3 → 16:30. By post (an estimate, 16 working
    hours of transit first: arrival Tuesday 24/2 16:30 — 30 min on 13/2, 8h on 23/2, 7h30 on 24/2), the 80
    hours run 24/2 16:30 → 10/3 16:30, or 11/3 16:30 with 6/3 off.
    """
    code, out, err = await motcua(db_url, "due", "2.000488", "--received", "2026-02-13T16:30")
    assert code == 0, err
    assert "Hẹn trả: 2026-03-06T16:30+07:00" in out, out
    assert "10 ngày làm việc" in out and "Tết Nguyên Đán" in out and "2026-02-20" in out

    await days_off.add_day_off(db, date(2026, 3, 6), "Nghỉ thử nghiệm", "test")
    code, out, err = await motcua(db_url, "due", "2.000488", "--received", "2026-02-13T16:30")
    assert code == 0, err
    assert "Hẹn trả: 2026-03-09T16:30+07:00" in out and "Nghỉ thử nghiệm" in out, out

    code, out, err = await motcua(
        db_url, "due", "2.000488", "--received", "2026-02-13T16:30", "--channel", "postal", "--json"
    )
    assert code == 0, err
    shown = json.loads(out)
    assert shown["appointment_at"] == "2026-03-11T16:30:00+07:00"
    assert shown["counted_from"] == "2026-02-24T16:30:00+07:00"
    assert shown["estimate"] is True and shown["stored_days_off_included"] is True
    assert {"day": "2026-03-06", "reason": "Nghỉ thử nghiệm"} in shown["days_skipped"]
    assert shown["unit"] == "working_days" and shown["amount"] == 10

    unknown = await motcua(db_url, "due", "0.000000", "--received", "2026-02-13T16:30")
    assert unknown[0] == 1 and "procedure.unknown" in unknown[2]


def _working_days_from(start: date, count: int) -> list[date]:
    calendar, days, day = WorkingCalendar(), [], start
    while len(days) < count:
        if calendar.is_working_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


async def _eventually(condition: Callable[[], bool], within: float = 10) -> None:
    """Wait until `condition()` holds, polling; fail after `within` seconds."""
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


async def _wait_for_calendar(client: TestClient, expected: set[date]) -> None:
    services = client.server.app[SERVICES]
    await _eventually(lambda: services.calendar.extra_days_off == expected)


async def _file(client: TestClient, orgs, key: str) -> dict:
    filed = await client.post(
        "/v1/dossiers", json=postal_dossier(), headers={**orgs.postal.auth, "Idempotency-Key": key}
    )
    assert filed.status == 201, await filed.text()
    return await filed.json()


async def test_running_gateway_picks_up_a_stored_day_off(aiohttp_client, settings, orgs, db):
    """A day off stored while the gateway runs reaches it within the refresh interval: the next dossier is
    dated past the new days off, the one before was not."""
    client = await aiohttp_client(create_app(settings.model_copy(update={"days_off_refresh_seconds": REFRESH_SECONDS})))
    first = await _file(client, orgs, "before")
    closed = _working_days_from(datetime.now(VN_TZ).date(), 5)
    for day in closed:
        await days_off.add_day_off(db, day, "Nghỉ đột xuất (thử nghiệm)", "test")
    await _wait_for_calendar(client, set(closed))
    second = await _file(client, orgs, "after")

    received = datetime.fromisoformat(second["received_at"])
    procedure = load_catalog().procedure("2.000488", received.astimezone(VN_TZ).date())
    transit = timedelta(hours=settings.postal_transit_hours)  # a postal receipt shows the estimate
    expected = WorkingCalendar(extra_days_off=closed).postal_estimate(received, procedure.processing, None, transit)
    assert datetime.fromisoformat(second["appointment_at"]) == expected
    plain = WorkingCalendar().postal_estimate(received, procedure.processing, None, transit)
    assert expected > plain
    assert datetime.fromisoformat(second["appointment_at"]) > datetime.fromisoformat(first["appointment_at"])

    await days_off.remove_day_off(db, closed[0])
    await _wait_for_calendar(client, set(closed[1:]))


async def test_days_off_from_settings_and_database_are_combined(aiohttp_client, settings, db):
    """At start-up the calendar holds MOTCUA_EXTRA_DAYS_OFF and the stored days off together."""
    await days_off.add_day_off(db, date(2026, 12, 1), "Thông báo thử", None)
    client = await aiohttp_client(create_app(settings.model_copy(update={"extra_days_off": [date(2026, 12, 2)]})))
    calendar = client.server.app[SERVICES].calendar
    assert calendar.extra_days_off == {date(2026, 12, 1), date(2026, 12, 2)}
    assert calendar.day_off_reason(date(2026, 12, 1)) == "Thông báo thử"


async def test_a_failing_refresh_keeps_the_calendar_in_use(aiohttp_client, settings: Settings, db):
    """When the days off cannot be read, the gateway logs a warning and keeps the calendar it has; it picks
    up changes again once reading works."""
    await days_off.add_day_off(db, date(2026, 12, 1), "Thông báo thử", None)
    client = await aiohttp_client(create_app(settings.model_copy(update={"days_off_refresh_seconds": REFRESH_SECONDS})))
    services = client.server.app[SERVICES]
    in_use = services.calendar
    assert in_use.extra_days_off == {date(2026, 12, 1)}
    await db.execute("ALTER TABLE days_off RENAME TO days_off_away")
    try:
        with capture_logs() as logs:
            await _eventually(lambda: any(entry["event"] == "days_off.refresh_failed" for entry in logs))
        assert services.calendar is in_use
        failure = next(entry for entry in logs if entry["event"] == "days_off.refresh_failed")
        assert failure["log_level"] == "warning" and failure["error"] == "UndefinedTableError"
    finally:
        await db.execute("ALTER TABLE days_off_away RENAME TO days_off")
    await days_off.add_day_off(db, date(2026, 12, 2), "Thông báo thử 2", None)
    await _wait_for_calendar(client, {date(2026, 12, 1), date(2026, 12, 2)})


async def test_store_functions_report_what_they_changed(db: asyncpg.Connection):
    """add/remove say whether they changed anything; the listing is ordered by day."""
    assert await days_off.add_day_off(db, date(2026, 12, 2), "b", "ops")
    assert await days_off.add_day_off(db, date(2026, 12, 1), "a", None)
    assert not await days_off.add_day_off(db, date(2026, 12, 1), "other", None)
    assert [(r["day"], r["reason"], r["added_by"]) for r in await days_off.list_days_off(db)] == [
        (date(2026, 12, 1), "a", None),
        (date(2026, 12, 2), "b", "ops"),
    ]
    assert await days_off.days_off_reasons(db) == {date(2026, 12, 1): "a", date(2026, 12, 2): "b"}
    assert await days_off.remove_day_off(db, date(2026, 12, 1))
    assert not await days_off.remove_day_off(db, date(2026, 12, 1))
