"""The working-time calendar (pure): working hours, holidays and swaps, days off, appointment units."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapping import WorkingCalendar
from mapping.calendar import PERIODS, VN_TZ
from mapping.catalog import ProcessingTime

CALENDAR = WorkingCalendar()
ON = date(2026, 11, 21)


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


# --- Working calendar --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "added", "expected"),
    [
        (vn(2026, 11, 17, 9), hours(1), vn(2026, 11, 17, 10)),  # plain Tuesday morning
        (vn(2026, 11, 17, 10, 30), hours(2), vn(2026, 11, 17, 14, 30)),  # runs over the lunch break
        (vn(2026, 11, 17, 18), hours(1), vn(2026, 11, 18, 8)),  # after 17:00 → next working morning
        (vn(2026, 11, 17, 17), hours(1), vn(2026, 11, 18, 8)),  # at 17:00 sharp → next working morning
        (vn(2026, 11, 17, 6), hours(1), vn(2026, 11, 17, 8)),  # before 07:00 → from 07:00
        (vn(2026, 11, 17, 12, 15), hours(1), vn(2026, 11, 17, 14, 30)),  # lunch → from 13:30
        (vn(2026, 11, 17, 16), hours(1), vn(2026, 11, 17, 17)),  # may end exactly at 17:00
        (vn(2026, 11, 16, 9), hours(8), vn(2026, 11, 17, 9)),  # 8 hours is one working day
    ],
)
def test_working_time_counts_only_working_hours(received, added, expected):
    """Time counts 07:00–11:30 and 13:30–17:00 only, starting from the next working instant."""
    assert CALENDAR.add_working_time(received, added) == expected


def test_working_time_accepts_any_time_zone():
    """A moment given in UTC counts from the same Vietnam-time instant."""
    received = datetime(2026, 11, 17, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội
    assert CALENDAR.add_working_time(received, hours(1)) == vn(2026, 11, 17, 10)


@pytest.mark.parametrize(
    ("received", "expected", "why"),
    [
        (vn(2026, 11, 20, 16), vn(2026, 11, 23, 8), "weekend"),
        (vn(2026, 11, 23, 16), vn(2026, 11, 25, 8), "24/11 Vietnamese Culture Day"),
        (vn(2026, 8, 28, 16), vn(2026, 9, 3, 8), "weekend, 31/8 swapped off, 1–2/9 National Day"),
        (vn(2026, 2, 13, 16), vn(2026, 2, 23, 8), "Tết 16–20/2 between two weekends"),
        (vn(2026, 8, 21, 16), vn(2026, 8, 22, 8), "Saturday 22/8 is a swapped working day"),
    ],
)
def test_working_time_skips_weekends_and_holidays(received, expected, why):
    """Weekends and Vietnamese public holidays are skipped; a swapped working Saturday counts."""
    assert CALENDAR.add_working_time(received, hours(2)) == expected, why


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 11, 23), True),
        (date(2026, 11, 24), False),
        (date(2026, 11, 21), False),
        (date(2026, 11, 22), False),
        (date(2026, 9, 1), False),
        (date(2026, 9, 2), False),
        (date(2026, 8, 22), True),
        (date(2026, 8, 31), False),
        *[(date(2026, 2, d), False) for d in range(16, 21)],
        (date(2026, 2, 23), True),
    ],
)
def test_working_days_follow_vietnamese_holidays_and_swaps(day, working):
    """is_working_day knows VN holidays, Tết, and the 2026 swap of Monday 31/8 for Saturday 22/8."""
    assert CALENDAR.is_working_day(day) is working


def test_announced_days_off_are_skipped():
    """A day off added by the operator is not a working day and working time skips it."""
    calendar = WorkingCalendar(extra_days_off=[date(2026, 11, 18)])
    assert not calendar.is_working_day(date(2026, 11, 18))
    assert CALENDAR.is_working_day(date(2026, 11, 18))
    assert calendar.add_working_time(vn(2026, 11, 17, 16), hours(2)) == vn(2026, 11, 19, 8)


@pytest.mark.parametrize(
    ("received", "days", "expected"),
    [
        (vn(2026, 11, 16, 10), 3, vn(2026, 11, 19, 17)),  # due on a working day: that day at 17:00
        (vn(2026, 11, 19, 10), 2, vn(2026, 11, 23, 17)),  # due Saturday → Monday
        (vn(2026, 11, 14, 10), 10, vn(2026, 11, 25, 17)),  # due on the 24/11 holiday → 25/11
        (vn(2026, 11, 19, 18), 3, vn(2026, 11, 23, 17)),  # counted in calendar days, not working time
    ],
)
def test_calendar_days_due_date_moves_off_days_off(received, days, expected):
    """A calendar-day deadline falling on a day off moves to the next working day, due at 17:00."""
    assert CALENDAR.appointment(received, ProcessingTime(amount=days, unit="calendar_days")) == expected


def test_working_days_and_hours_appointments():
    """An appointment in working days counts 8 working hours a day; one in working hours counts hours."""
    received = vn(2026, 11, 20, 16)  # Friday afternoon
    assert CALENDAR.appointment(received, ProcessingTime(amount=1, unit="working_days")) == vn(2026, 11, 23, 16)
    assert CALENDAR.appointment(received, ProcessingTime(amount=4, unit="working_hours")) == vn(2026, 11, 23, 10)


def _inside_working_period(moment: datetime) -> bool:
    local = moment.astimezone(VN_TZ)
    return CALENDAR.is_working_day(local.date()) and any(start < local.time() <= end for start, end in PERIODS)


@given(
    start=st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2027, 12, 31, 23, 59),
        timezones=st.sampled_from([VN_TZ, UTC]) | st.timezones(),
    ),
    first=st.integers(min_value=1, max_value=200),
    second=st.integers(min_value=1, max_value=200),
)
def test_working_time_lands_in_working_hours_and_grows_with_the_amount(start, first, second):
    """Adding whole working hours to any moment lands inside a working period (or at its end) of a working
    day, and adding more hours lands strictly later."""
    fewer, more = sorted((first, second))
    landed = CALENDAR.add_working_time(start, hours(fewer))
    assert landed > start
    assert _inside_working_period(landed), landed
    if more > fewer:
        assert CALENDAR.add_working_time(start, hours(more)) > landed


def test_working_periods_are_eight_hours():
    """The two working periods add up to the 8 hours of a working day."""
    total = sum((datetime.combine(ON, end) - datetime.combine(ON, start) for start, end in PERIODS), timedelta())
    assert total == hours(8)
    assert PERIODS[0][0] == time(7, 0) and PERIODS[-1][1] == time(17, 0)


# --- Units and routing -------------------------------------------------------------------------------------

