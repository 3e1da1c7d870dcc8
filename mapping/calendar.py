"""Working-time calendar for appointment dates, as one-stop systems count it.

Working hours are 07:00–11:30 and 13:30–17:00 in Asia/Ho_Chi_Minh, 8 hours to a working day. Weekends
and Vietnamese public holidays (the `holidays` package: Tết by the lunar calendar, compensatory days off
"nghỉ bù", and the government's swaps of a weekday off for a working Saturday, `weekend_workdays`) are
skipped; swapped working Saturdays count. Operators add announced days off (and, if ever needed, extra
working days) on top of the package's data.

Everything here is pure: no clock is read and nothing is stored. Time moments may come in any time zone;
answers are in Vietnam time.
"""

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from mapping.catalog import ProcessingTime

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PERIODS = ((time(7, 0), time(11, 30)), (time(13, 30), time(17, 0)))
HOURS_PER_WORKING_DAY = 8
END_OF_DAY = time(17, 0)
# The working time of one working day, all its periods (8 h).
WORKING_DAY = sum(
    (datetime.combine(date.min, end) - datetime.combine(date.min, begin) for begin, end in PERIODS), timedelta()
)
ANNOUNCED_DAY_OFF = "Ngày nghỉ được công bố thêm"
WEEKDAY_NAMES = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")


class WorkingCalendar:
    """Vietnamese working days and hours, plus the operator's announced days off.

    `extra_days_off` may be a mapping from day to reason (shown by `day_off_reason`) or just the days.
    An extra day off wins over everything (even a swapped working Saturday); an extra working day wins over
    the package's holidays and weekends.
    """

    def __init__(
        self, extra_days_off: Iterable[date] | Mapping[date, str] = (), extra_workdays: Iterable[date] = ()
    ) -> None:
        self._holidays = holidays.country_holidays("VN")
        self._reasons: dict[date, str] = (
            dict(extra_days_off) if isinstance(extra_days_off, Mapping) else dict.fromkeys(extra_days_off, "")
        )
        self._days_off = frozenset(self._reasons)
        self._extra_workdays = frozenset(extra_workdays)
        self._working: dict[date, bool] = {}

    @property
    def extra_days_off(self) -> frozenset[date]:
        return self._days_off

    # --- Days ------------------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        # Asked ~40 times per appointment (every intake): the answer never changes for one calendar.
        known = self._working.get(day)
        if known is None:
            known = self._working[day] = self._is_working_day(day)
        return known

    def _is_working_day(self, day: date) -> bool:
        if day in self._days_off:
            return False
        if day in self._extra_workdays:
            return True
        is_holiday = day in self._holidays  # also fills in that year's swapped working Saturdays
        if day in self._holidays.weekend_workdays:
            return True
        return day.weekday() < 5 and not is_holiday

    def day_off_reason(self, day: date) -> str | None:
        """Why `day` is not a working day (holiday name, announced reason, weekday name); None if it is one."""
        if self.is_working_day(day):
            return None
        if day in self._days_off:
            return self._reasons.get(day) or ANNOUNCED_DAY_OFF
        names = self._holidays.get_list(day)
        return "; ".join(names) if names else f"Nghỉ cuối tuần ({WEEKDAY_NAMES[day.weekday()]})"

    def days_off_between(self, first: date, last: date) -> list[date]:
        """The days from `first` to `last` (both included) that are not working days."""
        days = []
        day = first
        while day <= last:
            if not self.is_working_day(day):
                days.append(day)
            day += timedelta(days=1)
        return days

    def _fill_year(self, year: int) -> None:
        """The package computes a year's holidays (and its swaps) on first look-up."""
        _ = date(year, 1, 1) in self._holidays

    def public_holidays(self, year: int) -> list[tuple[date, str]]:
        """The `holidays` package's Vietnamese public holidays (with compensatory days) of one year."""
        self._fill_year(year)
        return sorted((day, name) for day, name in self._holidays.items() if day.year == year)

    def swapped_workdays(self, year: int) -> list[date]:
        """Weekend days the government turned into working days in one year (`weekend_workdays`)."""
        self._fill_year(year)
        return sorted(day for day in self._holidays.weekend_workdays if day.year == year)

    def next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    # --- Working time ----------------------------------------------------------------------------------

    def _start_of_work(self, moment: datetime) -> datetime:
        """The first working instant at or after `moment`: after 17:00 → next morning, lunch → 13:30."""
        local = moment.astimezone(VN_TZ)
        day = local.date()
        if self.is_working_day(day):
            for start, end in PERIODS:
                if local.time() < start:
                    return datetime.combine(day, start, VN_TZ)
                if local.time() < end:
                    return local
        return datetime.combine(self.next_working_day(day), PERIODS[0][0], VN_TZ)

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The instant when `amount` of working time has run from `start` (counted from the next working
        instant when `start` is outside working hours). It may land exactly at 11:30 or 17:00."""
        current = self._start_of_work(start)
        remaining = amount
        while True:
            if remaining > WORKING_DAY and current.time() == PERIODS[0][0]:
                # A whole working day from its first instant: one step instead of one per period.
                remaining -= WORKING_DAY
                current = datetime.combine(self.next_working_day(current.date()), PERIODS[0][0], VN_TZ)
                continue
            period_end = next(
                datetime.combine(current.date(), end, VN_TZ) for begin, end in PERIODS if begin <= current.time() < end
            )
            available = period_end - current
            if remaining <= available:
                return current + remaining
            remaining -= available
            current = self._start_of_work(period_end)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """The working time that elapses from `start` to `end` (zero when `end` is not later).

        The inverse of `add_working_time`: `working_time_between(a, add_working_time(a, d)) == d`.
        """
        if end <= start:
            return timedelta(0)
        first, last = start.astimezone(VN_TZ), end.astimezone(VN_TZ)
        total = timedelta(0)
        day = first.date()
        while day <= last.date():
            if self.is_working_day(day):
                for begin, finish in PERIODS:
                    overlap = min(last, datetime.combine(day, finish, VN_TZ)) - max(
                        first, datetime.combine(day, begin, VN_TZ)
                    )
                    if overlap > timedelta(0):
                        total += overlap
            day += timedelta(days=1)
        return total

    # --- Appointments ----------------------------------------------------------------------------------

    def appointment(
        self, received_at: datetime, processing: ProcessingTime, same_day_cutoff: time | None = None
    ) -> datetime:
        """The appointment (due) date of a dossier received at `received_at`, in Vietnam time.

        - same-day procedures (`same_day_cutoff` set): received (counted from the next working instant)
          before the cutoff → 17:00 that working day; at or after it → 17:00 the next working day;
        - working days: 8 working hours each, counted from the next working instant;
        - working hours: counted the same way;
        - calendar days: the receipt's date plus the days, at 17:00; a due date on a day off moves to the
          next working day.
        The answer is always on a working day.
        """
        if same_day_cutoff is not None:
            start = self._start_of_work(received_at)
            day = start.date() if start.time() < same_day_cutoff else self.next_working_day(start.date())
            return datetime.combine(day, END_OF_DAY, VN_TZ)
        if processing.unit == "working_days":
            return self.add_working_time(received_at, timedelta(hours=processing.amount * HOURS_PER_WORKING_DAY))
        if processing.unit == "working_hours":
            return self.add_working_time(received_at, timedelta(hours=processing.amount))
        due = received_at.astimezone(VN_TZ).date() + timedelta(days=processing.amount)
        if not self.is_working_day(due):
            due = self.next_working_day(due)
        return datetime.combine(due, END_OF_DAY, VN_TZ)

    def resume_after_stop(self, due: datetime, stopped_at: datetime, resumed_at: datetime) -> datetime:
        """The new due date after the clock stopped from `stopped_at` (supplement requested) to
        `resumed_at` (supplement received).

        Rule: new due = `add_working_time(due, working_time_between(stopped_at, resumed_at))`. Only the
        working time inside the stop counts: stopped Friday 10:00 and resumed Monday 10:00 adds 8 working
        hours (5 on Friday, 3 on Monday), not the weekend; a stop with no working time in it (Friday 17:00
        to Monday 07:00) leaves the due date unchanged. Counted from the due instant, so a due date at
        17:00 extended by 8 hours is 17:00 the next working day. The same rule applies to every unit,
        calendar-day procedures included (their stop is measured in working time too), and the answer is
        a working instant. Several stops are applied one after another, each to the previous answer.
        """
        if resumed_at < stopped_at:
            raise ValueError("resumed_at is before stopped_at")
        stopped = self.working_time_between(stopped_at, resumed_at)
        if not stopped:
            return due.astimezone(VN_TZ)
        return self.add_working_time(due, stopped)

    def postal_estimate(
        self,
        received_at: datetime,
        processing: ProcessingTime,
        same_day_cutoff: time | None,
        transit: timedelta,
    ) -> datetime:
        """An estimated appointment for a dossier handed to the post office at `received_at`.

        Postal transit is not part of the agency's processing time (Decision 45/2016/QĐ-TTg): the legal
        clock starts only when the agency acknowledges the physical dossier, and `appointment` is then
        computed from that acknowledgement. Until it happens, the estimate assumes arrival after `transit`
        of working time (`add_working_time(received_at, transit)`) and computes the appointment from
        there with the procedure's usual rule. A zero transit gives exactly `appointment(received_at, …)`.
        """
        if transit < timedelta(0):
            raise ValueError("transit must not be negative")
        arrival = self.add_working_time(received_at, transit) if transit else received_at
        return self.appointment(arrival, processing, same_day_cutoff)
