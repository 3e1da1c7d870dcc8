"""Mapping layer (pure, no database): the working-time calendar, competent-agency routing and the catalog."""

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapping import (
    Catalog,
    ProcedureUnknown,
    RoutingFailed,
    UnitUnknown,
    WorkingCalendar,
    load_catalog,
    resolve_unit,
    route,
)
from mapping.calendar import PERIODS, VN_TZ
from mapping.catalog import DEMO_CATALOG, CatalogFile, ProcessingTime
from mapping.errors import CatalogInvalid

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

CATALOG = load_catalog()


def test_province_procedure_routes_to_the_residence_province():
    """A province-level procedure by residence goes to that province's agency of the procedure's kind."""
    procedure = CATALOG.procedure("2.000488", on=ON)
    hanoi = route(CATALOG, procedure, resolve_unit("00004"), None)
    danang = route(CATALOG, procedure, resolve_unit("20194"), None)
    assert hanoi.agency.identifier == "000.00.10.H26"
    assert danang.agency.identifier == "000.00.10.H17"
    assert hanoi.basis == "applicant_residence" and hanoi.unit == resolve_unit("00004")


def test_commune_procedure_routes_to_the_residence_commune():
    """A commune-level procedure by residence goes to the UBND of the applicant's own commune."""
    procedure = CATALOG.procedure("1.001193", on=ON)
    assert route(CATALOG, procedure, resolve_unit("00004"), None).agency.identifier == "000.01.04.H26"
    assert route(CATALOG, procedure, resolve_unit("00008"), None).agency.identifier == "000.01.08.H26"
    assert route(CATALOG, procedure, resolve_unit("20194"), None).agency.identifier == "000.01.31.H17"


def test_subject_location_procedure_routes_by_the_subject_not_the_residence():
    """A land procedure goes to the agency where the land lies, whatever the applicant's residence."""
    procedure = CATALOG.procedure("DEMO.DD.01", on=ON)
    land_in_dong_nai = resolve_unit("25210")
    chosen = route(CATALOG, procedure, resolve_unit("00004"), land_in_dong_nai)
    assert chosen.agency.identifier == "000.00.30.H19"
    assert chosen.basis == "subject_location" and chosen.unit == land_in_dong_nai


def test_subject_location_procedure_without_subject_fails():
    """A subject-location procedure with no subject given raises RoutingFailed on subject_location."""
    procedure = CATALOG.procedure("DEMO.DD.01", on=ON)
    with pytest.raises(RoutingFailed) as failed:
        route(CATALOG, procedure, resolve_unit("00004"), None)
    assert failed.value.field == "subject_location"
    assert failed.value.code == "routing.no_agency"


def test_no_agency_for_the_unit_fails():
    """A procedure with no agency of its kind for the unit raises RoutingFailed naming the unit."""
    procedure = CATALOG.procedure("2.000488", on=ON)
    with pytest.raises(RoutingFailed) as failed:
        route(CATALOG, procedure, resolve_unit("25210"), None)  # no Sở Tư pháp Đồng Nai in the demo
    assert failed.value.field == "applicant.residence"
    assert "Đồng Nai" in failed.value.message


@pytest.mark.parametrize("code", ["99999", "0004", "000040", "abcde", ""])
def test_unknown_unit_codes_are_refused(code):
    """A unit code that is not a known 5-digit 2025 commune code raises UnitUnknown with a message."""
    with pytest.raises(UnitUnknown) as unknown:
        resolve_unit(code, field="applicant.residence")
    assert unknown.value.field == "applicant.residence"
    assert unknown.value.code == "unit.unknown"
    assert unknown.value.message


def test_legacy_code_system_is_not_supported_yet():
    """A legacy (pre-2025) unit code raises UnitUnknown saying the code system is not supported."""
    with pytest.raises(UnitUnknown, match="legacy"):
        resolve_unit("00004", "legacy")


# --- Catalog -----------------------------------------------------------------------------------------------


def _versioned_catalog() -> Catalog:
    base = {
        "code": "9.999999",
        "name": "Thủ tục thử",
        "sector": "Thử",
        "level": "province",
        "agency_kind": "so_tu_phap",
        "jurisdiction": "applicant_residence",
    }
    data = CatalogFile.model_validate(
        {
            "source": "test",
            "retrieved": "2026-11-21",
            # Listed out of order: the catalog orders versions by effective_from itself.
            "procedures": [
                {**base, "processing": {"amount": 5, "unit": "working_days"}, "effective_from": "2026-01-01"},
                {**base, "processing": {"amount": 10, "unit": "working_days"}, "effective_from": "2025-07-01"},
            ],
            "agencies": [],
        }
    )
    return Catalog(data)


@pytest.mark.parametrize(
    ("on", "amount"),
    [(date(2025, 7, 1), 10), (date(2025, 12, 31), 10), (date(2026, 1, 1), 5), (date(2027, 6, 1), 5)],
)
def test_catalog_picks_the_version_in_force(on, amount):
    """procedure(code, on=day) returns the version with the latest effective_from not after that day."""
    assert _versioned_catalog().procedure("9.999999", on=on).processing.amount == amount


def test_catalog_has_no_procedure_before_its_first_version_or_unknown_code():
    """A day before the first version, or a code not in the catalog, raises ProcedureUnknown."""
    catalog = _versioned_catalog()
    with pytest.raises(ProcedureUnknown) as before:
        catalog.procedure("9.999999", on=date(2025, 6, 30))
    assert before.value.field == "procedure_code"
    with pytest.raises(ProcedureUnknown):
        catalog.procedure("0.000000", on=date(2026, 1, 1))


def test_catalog_lists_the_latest_version_of_each_procedure():
    """procedures() gives one entry per code, its latest version."""
    assert [p.processing.amount for p in _versioned_catalog().procedures()] == [5]


def test_catalog_file_with_an_unknown_field_is_refused(tmp_path):
    """load_catalog raises CatalogInvalid naming a field the schema does not know."""
    data = json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))
    data["procedures"][1]["processing_dayz"] = 3
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CatalogInvalid, match="processing_dayz"):
        load_catalog(path)


def test_catalog_with_fixed_agency_unknown_is_refused():
    """A fixed-jurisdiction procedure naming no known agency makes the catalog invalid."""
    data = CatalogFile.model_validate(
        {
            "source": "test",
            "retrieved": "2026-11-21",
            "procedures": [
                {
                    "code": "9.000001",
                    "name": "Thủ tục thử",
                    "sector": "Thử",
                    "level": "central",
                    "agency_kind": "bo",
                    "jurisdiction": "fixed",
                    "fixed_agency": "000.00.99.G01",
                    "processing": {"amount": 1, "unit": "working_days"},
                }
            ],
            "agencies": [],
        }
    )
    with pytest.raises(CatalogInvalid, match=r"9\.000001"):
        Catalog(data)
