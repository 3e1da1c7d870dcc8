"""The working-time calendar (pure): working hours, holidays and swaps, days off, appointment units."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
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


# --- Receipt times around the working periods ---------------------------------------------------------------

FOUR_HOURS = ProcessingTime(amount=4, unit="working_hours")
ONE_DAY = ProcessingTime(amount=1, unit="working_days")
TEN_DAYS = ProcessingTime(amount=10, unit="working_days")
CUTOFF = time(15, 0)


@pytest.mark.parametrize(
    ("received", "four_hours", "one_day"),
    [
        # Tuesday 17/11/2026; Wednesday 18/11 is a working day.
        (vn(2026, 11, 17, 11, 29), vn(2026, 11, 18, 7, 29), vn(2026, 11, 18, 11, 29)),  # 1 min, 3h30, 29 min
        (vn(2026, 11, 17, 11, 31), vn(2026, 11, 18, 7, 30), vn(2026, 11, 18, 11, 30)),  # lunch: from 13:30
        (vn(2026, 11, 17, 13, 29), vn(2026, 11, 18, 7, 30), vn(2026, 11, 18, 11, 30)),  # lunch: from 13:30
        (vn(2026, 11, 17, 13, 31), vn(2026, 11, 18, 7, 31), vn(2026, 11, 18, 13, 31)),  # 3h29 then 31 min
        (vn(2026, 11, 17, 16, 59), vn(2026, 11, 18, 10, 59), vn(2026, 11, 18, 16, 59)),  # 1 min then 3h59
        (vn(2026, 11, 17, 17, 1), vn(2026, 11, 18, 11, 0), vn(2026, 11, 18, 17, 0)),  # from 07:00 next day
        (vn(2026, 11, 17, 6, 59), vn(2026, 11, 17, 11, 0), vn(2026, 11, 17, 17, 0)),  # from 07:00
    ],
)
def test_receipts_just_before_and_after_the_period_edges(received, four_hours, one_day):
    """A minute before 11:30 still counts; after 11:30 and before 13:30 counts from 13:30; after 17:00 from
    07:00 on the next working day; one working day from inside working hours is the same time a day later
    (from 13:30 it ends at 11:30, the end of the morning, rather than at the equivalent 13:30)."""
    assert CALENDAR.appointment(received, FOUR_HOURS) == four_hours
    assert CALENDAR.appointment(received, ONE_DAY) == one_day


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (vn(2026, 11, 17, 6, 0), vn(2026, 11, 17, 17)),  # before opening: counts from 07:00, same day
        (vn(2026, 11, 17, 12, 0), vn(2026, 11, 17, 17)),  # lunch: from 13:30, before the cutoff
        (vn(2026, 11, 17, 14, 59), vn(2026, 11, 17, 17)),  # just before 15:00: the same day
        (vn(2026, 11, 17, 15, 0), vn(2026, 11, 18, 17)),  # 15:00 sharp: the next working day
        (vn(2026, 11, 17, 15, 1), vn(2026, 11, 18, 17)),
        (vn(2026, 11, 17, 16, 59), vn(2026, 11, 18, 17)),
        (vn(2026, 11, 17, 17, 1), vn(2026, 11, 18, 17)),  # after closing: next morning, before the cutoff
        (vn(2026, 11, 20, 15, 1), vn(2026, 11, 23, 17)),  # Friday after the cutoff → Monday
        (vn(2026, 11, 23, 15, 30), vn(2026, 11, 25, 17)),  # Monday after the cutoff; 24/11 is a holiday
        (vn(2026, 11, 21, 10, 0), vn(2026, 11, 23, 17)),  # Saturday (e.g. online) → Monday
    ],
)
def test_same_day_procedures_follow_the_cutoff(received, expected):
    """Same-day procedures: received before 15:00 (in working time) → 17:00 that day; later → 17:00 on the
    next working day."""
    assert CALENDAR.appointment(received, ONE_DAY, same_day_cutoff=CUTOFF) == expected


# --- Holidays and swaps ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "processing", "cutoff", "expected", "why"),
    [
        (
            vn(2026, 2, 13, 16, 30),
            TEN_DAYS,
            None,
            vn(2026, 3, 6, 16, 30),
            "30 min on Fri 13/2; Tết 16–20/2 and two weekends skipped; 9 days 23/2–5/3; 7h30 on Fri 6/3",
        ),
        (vn(2026, 2, 13, 15, 30), ONE_DAY, CUTOFF, vn(2026, 2, 23, 17), "same-day after the cutoff, over Tết"),
        (vn(2026, 2, 10, 9), ProcessingTime(amount=7, unit="calendar_days"), None, vn(2026, 2, 23, 17), "17/2 Tết"),
        (vn(2026, 4, 29, 16), ONE_DAY, None, vn(2026, 5, 4, 16), "30/4 and 1/5 then the weekend"),
        (vn(2026, 4, 24, 16), ONE_DAY, None, vn(2026, 4, 28, 16), "Mon 27/4: Hùng Kings' day (Sun 26/4) observed"),
        (vn(2026, 8, 28, 16), ONE_DAY, None, vn(2026, 9, 3, 16), "weekend, 31/8 swapped off, 1–2/9 National Day"),
        (vn(2026, 8, 21, 16), ONE_DAY, None, vn(2026, 8, 22, 16), "Saturday 22/8 is a working day"),
        (vn(2026, 8, 21, 15, 30), ONE_DAY, CUTOFF, vn(2026, 8, 22, 17), "same-day: next working day is Sat 22/8"),
        (vn(2026, 8, 19, 9), ProcessingTime(amount=3, unit="calendar_days"), None, vn(2026, 8, 22, 17), "Sat 22/8"),
        (vn(2026, 11, 23, 16), ONE_DAY, None, vn(2026, 11, 25, 16), "24/11 Vietnamese Culture Day"),
        (vn(2025, 12, 31, 16), ONE_DAY, None, vn(2026, 1, 2, 16), "year end: 1/1/2026 off, Friday 2/1 works"),
        (vn(2026, 12, 31, 16), ONE_DAY, None, vn(2027, 1, 4, 16), "year end: Fri 1/1/2027 off, then weekend"),
    ],
)
def test_appointments_across_holidays_and_swaps(received, processing, cutoff, expected, why):
    """Appointments step over Tết, 30/4–1/5, National Day with its swap, 24/11 and New Year, and count the
    swapped working Saturday 22/8/2026."""
    assert CALENDAR.appointment(received, processing, cutoff) == expected, why


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        (date(2025, 1, 27), False, "Tết 2025: 27–31/1"),
        (date(2025, 1, 31), False, "Tết 2025"),
        (date(2025, 2, 3), True, "back after Tết 2025"),
        (date(2025, 4, 26), True, "Saturday worked in exchange for Friday 2/5/2025"),
        (date(2025, 5, 2), False, "the swapped day off"),
        (date(2025, 9, 1), False, "National Day 2025: 1–2/9"),
        (date(2026, 1, 1), False, "New Year's Day"),
        (date(2026, 1, 2), True, "no bridge day after New Year 2026"),
        (date(2026, 4, 27), False, "Hùng Kings' day on Sunday 26/4/2026, observed Monday"),
        (date(2026, 4, 28), True, ""),
        (date(2026, 4, 30), False, ""),
        (date(2026, 5, 1), False, ""),
        (date(2026, 5, 4), True, ""),
        (date(2027, 5, 3), False, "Labour Day 2027 on Saturday, observed Monday"),
        (date(2027, 11, 24), False, "Vietnamese Culture Day, every year from 2026"),
        (date(2025, 11, 24), True, "no Culture Day holiday before 2026"),
    ],
)
def test_holiday_data_of_the_holidays_package(day, working, why):
    """The `holidays` package's VN data as the calendar reads it: observed (compensatory) days off and the
    government's swaps of working days (`weekend_workdays`)."""
    assert CALENDAR.is_working_day(day) is working, why


def test_holidays_and_swaps_of_a_year_are_listed_with_their_names():
    """The calendar lists a year's holidays (with names) and its swapped working Saturdays, and says why a
    day is not a working day."""
    listed = dict(CALENDAR.public_holidays(2026))
    assert [day for day in listed if day.month == 2] == [date(2026, 2, d) for d in range(16, 21)]
    assert listed[date(2026, 11, 24)] == "Ngày Văn hóa Việt Nam"
    assert date(2026, 8, 31) in listed and all(day.year == 2026 for day in listed)
    assert CALENDAR.swapped_workdays(2026) == [date(2026, 8, 22)]
    assert CALENDAR.swapped_workdays(2025) == [date(2025, 4, 26)]
    assert CALENDAR.day_off_reason(date(2026, 11, 24)) == "Ngày Văn hóa Việt Nam"
    assert CALENDAR.day_off_reason(date(2026, 11, 21)).startswith("Nghỉ cuối tuần")
    assert CALENDAR.day_off_reason(date(2026, 8, 22)) is None
    assert CALENDAR.day_off_reason(date(2026, 11, 23)) is None
    announced = WorkingCalendar(extra_days_off={date(2026, 11, 23): "Thông báo 123/TB-VPCP"})
    assert announced.day_off_reason(date(2026, 11, 23)) == "Thông báo 123/TB-VPCP"
    assert WorkingCalendar(extra_days_off=[date(2026, 11, 23)]).day_off_reason(date(2026, 11, 23))
    assert announced.days_off_between(date(2026, 11, 20), date(2026, 11, 25)) == [
        date(2026, 11, 21),
        date(2026, 11, 22),
        date(2026, 11, 23),
        date(2026, 11, 24),
    ]


def test_operators_extra_days_off_and_extra_working_days():
    """An extra day off wins even over a swapped working Saturday; an extra working day counts even on a
    weekend or a holiday; both move appointments."""
    closed = WorkingCalendar(extra_days_off=[date(2026, 8, 22), date(2026, 11, 25)])
    assert not closed.is_working_day(date(2026, 8, 22))
    assert closed.appointment(vn(2026, 8, 21, 16), ONE_DAY) == vn(2026, 8, 24, 16)
    assert closed.appointment(vn(2026, 11, 23, 16), ONE_DAY) == vn(2026, 11, 26, 16)
    opened = WorkingCalendar(extra_workdays=[date(2026, 11, 28), date(2026, 11, 24)])
    assert opened.is_working_day(date(2026, 11, 28)) and opened.is_working_day(date(2026, 11, 24))
    assert opened.appointment(vn(2026, 11, 27, 16), ONE_DAY) == vn(2026, 11, 28, 16)
    assert opened.appointment(vn(2026, 11, 23, 16), ONE_DAY) == vn(2026, 11, 24, 16)
    assert opened.appointment(vn(2026, 11, 26, 9), ProcessingTime(amount=2, unit="calendar_days")) == vn(
        2026, 11, 28, 17
    )


# --- Working time elapsed, supplement stops, postal estimates --------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (vn(2026, 11, 20, 10), vn(2026, 11, 23, 10), hours(8)),  # Friday 10:00 → Monday 10:00: 5h + 3h
        (vn(2026, 11, 17, 11, 30), vn(2026, 11, 17, 13, 30), hours(0)),  # the lunch break
        (vn(2026, 11, 17, 11), vn(2026, 11, 17, 14), hours(1)),  # 30 min + 30 min around lunch
        (vn(2026, 11, 20, 17), vn(2026, 11, 23, 7), hours(0)),  # a weekend, closing to opening
        (vn(2026, 2, 13, 16), vn(2026, 2, 23, 8), hours(2)),  # over Tết
        (vn(2026, 11, 17, 10), vn(2026, 11, 17, 9), hours(0)),  # end before start
        (vn(2026, 11, 16, 7), vn(2026, 11, 28, 0), hours(9 * 8)),  # Mon 16 – Fri 27/11: 10 days less 24/11
    ],
)
def test_working_time_between_two_moments(start, end, expected):
    """Only working time between two moments counts."""
    assert CALENDAR.working_time_between(start, end) == expected


def test_working_time_between_accepts_any_time_zone():
    start = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # Friday 10:00 in Hà Nội
    assert CALENDAR.working_time_between(start, vn(2026, 11, 23, 10)) == hours(8)


@pytest.mark.parametrize(
    ("due", "stopped", "resumed", "expected", "why"),
    [
        (vn(2026, 11, 25, 16), vn(2026, 11, 20, 10), vn(2026, 11, 23, 10), vn(2026, 11, 26, 16), "8h over a weekend"),
        (vn(2026, 11, 25, 16), vn(2026, 11, 20, 17), vn(2026, 11, 23, 7), vn(2026, 11, 25, 16), "no working time"),
        (vn(2026, 11, 25, 17), vn(2026, 11, 21, 9), vn(2026, 11, 22, 9), vn(2026, 11, 25, 17), "weekend: 17:00 stays"),
        (vn(2026, 11, 27, 17), vn(2026, 11, 23, 15), vn(2026, 11, 25, 9), vn(2026, 11, 30, 11), "2h + 2h over 24/11"),
        (vn(2026, 11, 19, 17), vn(2026, 11, 16, 9), vn(2026, 11, 17, 9), vn(2026, 11, 20, 17), "due 17:00 + 1 day"),
        (vn(2026, 2, 13, 16), vn(2026, 2, 12, 16), vn(2026, 2, 13, 8), vn(2026, 2, 23, 8), "2h, 1h past Tết"),
    ],
)
def test_supplement_stop_adds_the_working_time_it_lasted(due, stopped, resumed, expected, why):
    """A supplement request stops the clock: the new due date adds exactly the working time that elapsed
    while stopped, counted on from the old due date."""
    assert CALENDAR.resume_after_stop(due, stopped, resumed) == expected, why


def test_supplement_stops_apply_one_after_another_and_must_be_ordered():
    """Two stops of 8 working hours each move a due date two working days; a resume before the stop is
    refused."""
    due = vn(2026, 11, 19, 16)
    once = CALENDAR.resume_after_stop(due, vn(2026, 11, 16, 9), vn(2026, 11, 17, 9))
    twice = CALENDAR.resume_after_stop(once, vn(2026, 11, 17, 14), vn(2026, 11, 18, 14))
    assert (once, twice) == (vn(2026, 11, 20, 16), vn(2026, 11, 23, 16))
    with pytest.raises(ValueError):
        CALENDAR.resume_after_stop(due, vn(2026, 11, 17, 9), vn(2026, 11, 16, 9))


def test_supplement_stop_of_a_calendar_day_procedure_lands_on_working_time():
    """A calendar-day procedure's stop is measured in working time too; its new due date is a working
    instant, never on a day off."""
    due = CALENDAR.appointment(vn(2026, 11, 13, 9), ProcessingTime(amount=10, unit="calendar_days"))
    assert due == vn(2026, 11, 23, 17)
    assert CALENDAR.resume_after_stop(due, vn(2026, 11, 16, 16), vn(2026, 11, 17, 8)) == vn(2026, 11, 25, 9)


def test_postal_estimate_adds_transit_as_working_time_first():
    """The postal estimate counts the transit as working time, then applies the procedure's rule from the
    estimated arrival; with no transit it is the plain appointment."""
    transit = hours(16)
    # Arrival: 30 min on Fri 13/2, Tết and the weekend, 8h on Mon 23/2, 7h30 on Tue 24/2 → 16:30 on 24/2.
    # Then 80 working hours: 30 min on 24/2, nine days 25/2–9/3, 7h30 on Tue 10/3 → 16:30.
    assert CALENDAR.postal_estimate(vn(2026, 2, 13, 16, 30), TEN_DAYS, None, transit) == vn(2026, 3, 10, 16, 30)
    assert CALENDAR.postal_estimate(vn(2026, 11, 23, 14), ONE_DAY, CUTOFF, hours(2)) == vn(2026, 11, 25, 17)
    assert CALENDAR.appointment(vn(2026, 11, 23, 14), ONE_DAY, CUTOFF) == vn(2026, 11, 23, 17)
    saturday = vn(2026, 11, 21, 10)
    calendar_days = ProcessingTime(amount=2, unit="calendar_days")
    assert CALENDAR.postal_estimate(saturday, calendar_days, None, hours(0)) == CALENDAR.appointment(
        saturday, calendar_days
    )
    with pytest.raises(ValueError):
        CALENDAR.postal_estimate(saturday, ONE_DAY, None, hours(-1))


# --- Properties ----------------------------------------------------------------------------------------------

MOMENTS = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2027, 12, 31, 23, 59),
    timezones=st.sampled_from([VN_TZ, UTC]) | st.timezones(),
)
PROCESSING = st.one_of(
    st.builds(ProcessingTime, amount=st.integers(1, 30), unit=st.just("working_days")),
    st.builds(ProcessingTime, amount=st.integers(1, 40) | st.floats(0.25, 40), unit=st.just("working_hours")),
    st.builds(ProcessingTime, amount=st.integers(1, 60), unit=st.just("calendar_days")),
)
CUTOFFS = st.none() | st.just(CUTOFF) | st.times(min_value=time(7, 1), max_value=time(17, 0))
DAYS_OFF = st.sets(st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 6, 30)), max_size=40)
TRANSITS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=40))


@hypothesis_settings(deadline=None)
@given(received=MOMENTS, processing=PROCESSING, cutoff=CUTOFFS, days_off=DAYS_OFF, transit=TRANSITS)
def test_a_due_date_is_never_on_a_day_off(received, processing, cutoff, days_off, transit):
    """Whatever the unit, cutoff and announced days off, the appointment (and the postal estimate) falls on
    a working day, between 07:00 and 17:00, after the receipt."""
    calendar = WorkingCalendar(extra_days_off=days_off)
    for due in (
        calendar.appointment(received, processing, cutoff),
        calendar.postal_estimate(received, processing, cutoff, transit),
    ):
        local = due.astimezone(VN_TZ)
        assert calendar.is_working_day(local.date()), (due, calendar.day_off_reason(local.date()))
        assert time(7, 0) <= local.time() <= time(17, 0)
        assert due > received


@hypothesis_settings(deadline=None)
@given(
    first=MOMENTS,
    later_by=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    processing=PROCESSING,
    cutoff=CUTOFFS,
    days_off=DAYS_OFF,
)
def test_a_later_receipt_is_never_due_earlier(first, later_by, processing, cutoff, days_off):
    """Appointments are monotonic in the receipt time."""
    calendar = WorkingCalendar(extra_days_off=days_off)
    second = first + later_by
    assert calendar.appointment(first, processing, cutoff) <= calendar.appointment(second, processing, cutoff)
    transit = hours(16)
    assert calendar.postal_estimate(first, processing, cutoff, transit) <= calendar.postal_estimate(
        second, processing, cutoff, transit
    )


@hypothesis_settings(deadline=None)
@given(start=MOMENTS, amount=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=15)))
def test_working_time_between_inverts_add_working_time(start, amount):
    """`working_time_between(a, add_working_time(a, d)) == d`, to the microsecond."""
    assert CALENDAR.working_time_between(start, CALENDAR.add_working_time(start, amount)) == amount


def _period_by_period(start: datetime, amount: timedelta) -> datetime:
    """add_working_time as first written: one working period at a time, never a whole day at once."""
    current, remaining = CALENDAR._start_of_work(start), amount
    while True:
        end = next(datetime.combine(current.date(), e, VN_TZ) for b, e in PERIODS if b <= current.time() < e)
        if remaining <= end - current:
            return current + remaining
        remaining -= end - current
        current = CALENDAR._start_of_work(end)


@hypothesis_settings(deadline=None)
@given(
    start=MOMENTS,
    amount=st.one_of(
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=15)),
        st.integers(min_value=0, max_value=40).map(lambda days: hours(8 * days)),  # whole days: the shortcut's edge
    ),
)
def test_whole_days_skipped_at_once_land_where_period_by_period_would(start, amount):
    """add_working_time steps over a whole working day at once when it can; it ends exactly where counting
    period by period does (a whole day from 07:00 ends at 17:00 that day, not 07:00 the next)."""
    assert CALENDAR.add_working_time(start, amount) == _period_by_period(start, amount)


@hypothesis_settings(deadline=None)
@given(due=MOMENTS, stopped=MOMENTS, stop_length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)))
def test_a_stop_moves_the_due_date_by_exactly_its_working_time(due, stopped, stop_length):
    """After a stop the due date is never earlier, and it moved by exactly the working time of the stop."""
    resumed = stopped + stop_length
    moved = CALENDAR.resume_after_stop(due, stopped, resumed)
    stopped_for = CALENDAR.working_time_between(stopped, resumed)
    assert moved >= due
    assert CALENDAR.working_time_between(due, moved) == stopped_for
    if not stopped_for:
        assert moved == due


# --- Units and routing -------------------------------------------------------------------------------------
