"""Working-time calendar for appointment dates, as one-stop systems count it.

Working hours are 07:00–11:30 and 13:30–17:00 in Asia/Ho_Chi_Minh, 8 hours to a working day. Weekends
and Vietnamese public holidays (the `holidays` package, Tết by the lunar calendar) are skipped, swapped
working Saturdays count, and operators can add announced days off.
"""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from mapping.catalog import ProcessingTime

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PERIODS = ((time(7, 0), time(11, 30)), (time(13, 30), time(17, 0)))
HOURS_PER_WORKING_DAY = 8
END_OF_DAY = time(17, 0)


class WorkingCalendar:
    def __init__(self, extra_days_off: Iterable[date] = (), extra_workdays: Iterable[date] = ()) -> None:
        self._holidays = holidays.country_holidays("VN")
        self._days_off = frozenset(extra_days_off)
        self._extra_workdays = frozenset(extra_workdays)

    def is_working_day(self, day: date) -> bool:
        if day in self._days_off:
            return False
        if day in self._extra_workdays:
            return True
        is_holiday = day in self._holidays  # also fills in that year's swapped working Saturdays
        if day in self._holidays.weekend_workdays:
            return True
        return day.weekday() < 5 and not is_holiday

    def next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

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
        current = self._start_of_work(start)
        remaining = amount
        while True:
            period_end = next(
                datetime.combine(current.date(), end, VN_TZ) for begin, end in PERIODS if begin <= current.time() < end
            )
            available = period_end - current
            if remaining <= available:
                return current + remaining
            remaining -= available
            current = self._start_of_work(period_end)

    def appointment(
        self, received_at: datetime, processing: ProcessingTime, same_day_cutoff: time | None = None
    ) -> datetime:
        if same_day_cutoff is not None:
            # Same-day procedures: received (in working time) before the cutoff → due at the end of that
            # working day; later → at the end of the next one.
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
