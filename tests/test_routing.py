"""Competent-agency routing (pure): the residence, commune, subject and scope rules, and unit resolution."""

import pytest

from mapping import load_catalog, resolve_unit

# TODO(routing rewrite): the tests below use the old route() API and move to mapping.decide.


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


