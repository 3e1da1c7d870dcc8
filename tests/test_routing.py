"""Competent-agency routing (pure): one decision per dossier, with its explanation, or a stable error code."""

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vietnam_provinces import Ward

from mapping import (
    Agency,
    Catalog,
    IntakeOutOfScope,
    IntakePoint,
    MappingError,
    NoCompetentAgency,
    Procedure,
    ProcedureNotPostal,
    ProcedureUnknown,
    RoutingRequest,
    UnitInput,
    UnitUnknown,
    decide,
    load_catalog,
    resolve_unit,
)
from mapping.calendar import VN_TZ

MOTCUA = Path(sys.executable).parent / "motcua"
AT = datetime(2026, 11, 20, 9, 0, tzinfo=VN_TZ)
BA_DINH, NGOC_HA, HAI_VAN = "00004", "00008", "20194"  # two communes of Hà Nội, one of Đà Nẵng
HANOI, DANANG = resolve_unit(BA_DINH), resolve_unit(HAI_VAN)


def procedure(code: str, **fields) -> Procedure:
    base = {
        "code": code,
        "name": f"Thủ tục {code}",
        "sector": "Thử nghiệm",
        "level": "province",
        "agency_kind": "so",
        "jurisdiction": "applicant_residence",
        "processing": {"amount": 5, "unit": "working_days"},
    }
    return Procedure.model_validate(base | fields)


def agency(identifier: str, kind: str, level: str, province: str | None, commune: str | None = None) -> Agency:
    return Agency(
        identifier=identifier,
        name=f"Cơ quan {identifier}",
        kind=kind,
        level=level,
        province_code=province,
        commune_code=commune,
    )


AGENCIES = [
    agency("SO.H01", "so", "province", "01"),
    agency("SO.H48", "so", "province", "48"),
    agency("XA.00004", "xa", "commune", "01", BA_DINH),
    agency("XA.00008", "xa", "commune", "01", NGOC_HA),
    agency("CA.H48", "ca", "province", "48"),
    agency("BO.TW", "bo", "central", None),
]
PROCEDURES = [
    procedure("P.RESIDENCE"),
    procedure("P.COMMUNE", level="commune", agency_kind="xa"),
    procedure("P.LAND", jurisdiction="subject_location", non_geographic="province"),
    procedure("P.ANY", agency_kind="ca", jurisdiction="any_of_kind"),
    procedure("P.FIXED", jurisdiction="fixed", fixed_agency="BO.TW", level="central", agency_kind="bo"),
    procedure("P.LOCAL", level="commune", agency_kind="xa", non_geographic="none"),
    procedure("P.COUNTER_ONLY", postal_intake=False),
    procedure(
        "P.COMPOSITE",
        level="commune",
        agency_kind="xa",
        steps=[
            {
                "order": 1,
                "name": "Khai sinh",
                "level": "commune",
                "agency_kind": "xa",
                "jurisdiction": "applicant_residence",
                "processing": {"amount": 1, "unit": "working_days"},
            },
            {
                "order": 2,
                "name": "Thường trú",
                "level": "province",
                "agency_kind": "so",
                "jurisdiction": "applicant_residence",
                "processing": {"amount": 3, "unit": "working_days"},
            },
            {
                "order": 3,
                "name": "Thẻ BHYT",
                "level": "central",
                "agency_kind": "bo",
                "jurisdiction": "fixed",
                "fixed_agency": "BO.TW",
                "processing": {"amount": 5, "unit": "working_days"},
            },
        ],
    ),
]
CATALOG = Catalog(PROCEDURES, AGENCIES)


def route(
    code: str,
    residence: str = BA_DINH,
    *,
    subject: str | None = None,
    channel: str = "counter",
    intake: str | None = HAI_VAN,
):
    point = IntakePoint(channel, resolve_unit(intake) if intake else None)  # type: ignore[arg-type]
    return decide(
        CATALOG, RoutingRequest(code, UnitInput(residence), point, AT, UnitInput(subject) if subject else None)
    )


def test_province_procedure_goes_to_the_residence_province_wherever_filed():
    """A province-level procedure filed at a Đà Nẵng counter by a Hà Nội resident goes to Hà Nội's agency."""
    decision = route("P.RESIDENCE", BA_DINH, intake=HAI_VAN)
    assert decision.agency.identifier == "SO.H01"
    assert decision.basis == "applicant_residence"
    assert "nơi cư trú" in decision.explain()["rule"] and "Thành phố Hà Nội" in decision.explain()["rule"]


def test_commune_procedure_goes_to_the_residence_commune():
    """A commune-level procedure goes to the People's Committee of the applicant's own commune."""
    assert route("P.COMMUNE", NGOC_HA).agency.identifier == "XA.00008"


def test_subject_location_rules_over_residence():
    """A land procedure goes to the province where the land lies, not where the applicant lives."""
    decision = route("P.LAND", BA_DINH, subject=HAI_VAN, intake=HAI_VAN)
    assert decision.agency.identifier == "SO.H48"
    assert decision.steps[0].unit == DANANG


def test_subject_location_procedure_needs_a_subject():
    """Without the land's location a land procedure cannot be routed: unit.unknown on subject_location."""
    with pytest.raises(UnitUnknown) as refused:
        route("P.LAND")
    assert refused.value.field == "subject_location"


def test_any_agency_of_the_kind_prefers_the_intake_point():
    """Where any agency of the kind may decide, the one where the dossier was filed is chosen."""
    decision = route("P.ANY", BA_DINH, intake=HAI_VAN)
    assert decision.agency.identifier == "CA.H48"
    assert "nơi tiếp nhận" in decision.explain()["rule"]


def test_fixed_agency_decides_whatever_the_units():
    """A procedure bound to one agency goes there from any residence."""
    assert route("P.FIXED", HAI_VAN).agency.identifier == "BO.TW"


def test_province_scope_refuses_a_counter_of_another_province():
    """A procedure that may only be filed within its province is refused at a counter elsewhere."""
    with pytest.raises(IntakeOutOfScope):
        route("P.LAND", BA_DINH, subject=BA_DINH, intake=HAI_VAN)
    assert route("P.LAND", HAI_VAN, subject=BA_DINH, intake=NGOC_HA).agency.identifier == "SO.H01"


def test_no_scope_means_only_at_the_competent_agency():
    """A procedure with no non-geographic intake is taken only at the competent agency's own commune."""
    with pytest.raises(IntakeOutOfScope):
        route("P.LOCAL", BA_DINH, intake=NGOC_HA)
    assert route("P.LOCAL", BA_DINH, intake=BA_DINH).agency.identifier == "XA.00004"


def test_online_intake_is_not_bound_by_scope():
    """Dossiers from the national portal have no intake unit, so no scope applies."""
    assert route("P.LOCAL", BA_DINH, channel="online", intake=None).agency.identifier == "XA.00004"


def test_postal_intake_only_where_the_procedure_allows_it():
    """A procedure without postal intake is refused by post with procedure.not_postal, taken at a counter."""
    with pytest.raises(ProcedureNotPostal):
        route("P.COUNTER_ONLY", channel="postal")
    assert route("P.COUNTER_ONLY", channel="counter").agency.identifier == "SO.H01"


def test_composite_procedure_routes_every_step_in_order():
    """A composite procedure yields one decision per step, in order, each to its own agency."""
    decision = route("P.COMPOSITE", BA_DINH)
    assert [(s.order, s.agency.identifier) for s in decision.steps] == [(1, "XA.00004"), (2, "SO.H01"), (3, "BO.TW")]
    assert decision.agency.identifier == "XA.00004"
    assert [step["agency"]["identifier"] for step in decision.explain()["steps"]] == ["XA.00004", "SO.H01", "BO.TW"]


def test_no_agency_for_the_unit_is_agency_none_competent():
    """A residence whose province has no agency of the kind gives agency.none_competent."""
    with pytest.raises(NoCompetentAgency) as refused:
        route("P.RESIDENCE", "25747")  # Hồ Chí Minh City: no 'so' agency in this small catalog
    assert refused.value.code == "agency.none_competent"


def test_unknown_procedure_and_unit():
    """Unknown procedure codes and unit codes have their own stable codes."""
    with pytest.raises(ProcedureUnknown):
        route("P.NONE")
    with pytest.raises(UnitUnknown):
        route("P.RESIDENCE", "99999")


BUNDLED = load_catalog()
COMMUNES = [f"{int(ward.code):05d}" for ward in Ward.iter_all()]
CODES = sorted({p.code for p in BUNDLED.all_versions()})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    code=st.sampled_from([*CODES, "0.000000"]),
    residence=st.one_of(st.sampled_from(COMMUNES), st.text(max_size=6)),
    system=st.sampled_from(["2025", "legacy"]),
    subject=st.one_of(st.none(), st.sampled_from(COMMUNES)),
    intake=st.one_of(st.none(), st.sampled_from(COMMUNES)),
    channel=st.sampled_from(["postal", "counter", "online"]),
    day=st.dates(),
)
def test_routing_never_fails_with_anything_but_a_routing_error(code, residence, system, subject, intake, channel, day):
    """Over every catalog entry and random units, decide returns a decision or raises a MappingError with a
    stable code, never anything else."""
    request = RoutingRequest(
        code,
        UnitInput(residence, system),
        IntakePoint(channel, resolve_unit(intake) if intake else None),
        datetime(day.year, day.month, day.day, 10, tzinfo=VN_TZ),
        UnitInput(subject) if subject else None,
    )
    try:
        decision = decide(BUNDLED, request)
    except MappingError as error:
        assert error.code in {
            "procedure.unknown",
            "procedure.not_postal",
            "intake.out_of_scope",
            "unit.unknown",
            "unit.ambiguous",
            "agency.none_competent",
        }
        assert error.message
    else:
        assert decision.agency.identifier in BUNDLED.agencies
        assert decision.explain()["rule"]


def _motcua(*args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MOTCUA_")}
    return subprocess.run([str(MOTCUA), *args], capture_output=True, text=True, env=env, timeout=60)


def test_route_command_explains_the_decision():
    """`motcua route` prints the agency and the rule that chose it, and as JSON the whole explanation."""
    shown = _motcua("route", "2.000488", "--residence", HAI_VAN, "--intake-unit", BA_DINH, "--channel", "postal")
    assert shown.returncode == 0, shown.stderr
    assert "Sở Tư pháp thành phố Đà Nẵng" in shown.stdout and "nơi cư trú" in shown.stdout
    as_json = json.loads(_motcua("route", "2.000488", "--residence", HAI_VAN, "--json").stdout)
    assert as_json["basis"] == "applicant_residence"
    assert as_json["residence"]["province_code"] == "48"


def test_route_command_names_the_error_code():
    """An unroutable request exits 1 naming the stable error code."""
    refused = _motcua("route", "0.000000", "--residence", BA_DINH)
    assert refused.returncode == 1
    assert "procedure.unknown" in refused.stdout
