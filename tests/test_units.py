"""Administrative units (pure, against the `vietnam-provinces` data), and one HTTP path for a split legacy ward."""

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vietnam_provinces import Province, Ward
from vietnam_provinces._ward_conversion_2025 import OLD_TO_NEW
from vietnam_provinces.legacy._lookup import WARD_MAPPING as LEGACY_WARDS

from mapping.errors import UnitAmbiguous, UnitUnknown
from mapping.units import ResolvedUnit, resolve_unit
from tests.samples import postal_dossier

COMMUNES_2025 = sorted(f"{int(ward.code):05d}" for ward in Ward.iter_all())
COMMUNES_2025_SET = frozenset(COMMUNES_2025)
LEGACY_CODES = sorted({f"{int(code):05d}" for code in LEGACY_WARDS} | {f"{code:05d}" for code in OLD_TO_NEW})
HANOI = {"province_code": "01", "province_name": "Thành phố Hà Nội"}
# Legacy 00016, Phường Ngọc Hà (Quận Ba Đình), was split over two new wards of Hà Nội.
NGOC_HA_CANDIDATES = [
    {"code": "00004", "name": "Phường Ba Đình", **HANOI},
    {"code": "00008", "name": "Phường Ngọc Hà", **HANOI},
]


def test_2025_tables_have_34_provinces_and_3321_communes():
    """The 2025 tables carry the 34 provinces and 3,321 communes of Resolution 202/2025/QH15."""
    assert len(list(Province.iter_all())) == 34
    assert len(COMMUNES_2025) == 3321


def test_2025_code_resolves_to_its_commune():
    """A 2025 commune code resolves to that commune, recording it was given in the 2025 system."""
    assert resolve_unit("00004", "2025") == ResolvedUnit(
        commune_code="00004",
        commune_name="Phường Ba Đình",
        given_code="00004",
        given_system="2025",
        legacy_name=None,
        **HANOI,
    )


def test_2025_code_with_matching_new_commune_code_resolves_and_other_is_unknown():
    """With a 2025 code, `new_commune_code` must be the code itself; any other commune is `unit.unknown`."""
    assert resolve_unit("00004", "2025", new_commune_code="00004").commune_code == "00004"
    with pytest.raises(UnitUnknown) as refused:
        resolve_unit("00004", "2025", new_commune_code="00008", field="applicant.residence.unit_code")
    assert refused.value.field == "applicant.residence.unit_code"


def test_legacy_ward_that_became_one_commune_resolves_to_it():
    """A legacy ward merged whole into one commune resolves to it, keeping the legacy code and full name."""
    unit = resolve_unit("00013", "legacy")
    assert unit.as_dict() == {
        "commune_code": "00004",
        "commune_name": "Phường Ba Đình",
        **HANOI,
        "given_code": "00013",
        "given_system": "legacy",
        "legacy_name": "Phường Quán Thánh, Quận Ba Đình, Thành phố Hà Nội",
    }


def test_legacy_ward_across_old_and_new_provinces_resolves_to_the_new_province():
    """A ward of a dissolved province (Hà Giang) resolves to its commune in the new province (Tuyên Quang)."""
    unit = resolve_unit("00691", "legacy")
    assert (unit.legacy_name, unit.province_code, unit.province_name) == (
        "Phường Trần Phú, Thành phố Hà Giang, Tỉnh Hà Giang",
        "08",
        "Tỉnh Tuyên Quang",
    )


def test_legacy_ward_of_one_commune_refuses_another_new_commune_code():
    """Naming a new commune other than the one a whole legacy ward became is `unit.unknown`, offering the
    right one."""
    with pytest.raises(UnitUnknown) as refused:
        resolve_unit("00013", "legacy", new_commune_code="00008")
    assert refused.value.candidates == [{"code": "00004", "name": "Phường Ba Đình", **HANOI}]


def test_split_legacy_ward_is_ambiguous_with_every_new_commune_as_candidate():
    """A legacy ward split over several communes is `unit.ambiguous`, naming the ward in Vietnamese and
    listing exactly the communes it became."""
    with pytest.raises(UnitAmbiguous) as ambiguous:
        resolve_unit("00016", "legacy", field="applicant.residence.unit_code")
    error = ambiguous.value
    assert (error.code, error.field) == ("unit.ambiguous", "applicant.residence.unit_code")
    assert error.candidates == NGOC_HA_CANDIDATES
    assert "Phường Ngọc Hà, Quận Ba Đình, Thành phố Hà Nội" in error.message
    expected = sorted(f"{int(found.ward.code):05d}" for found in Ward.search_from_legacy(code=16))
    assert [candidate["code"] for candidate in error.candidates] == expected


@pytest.mark.parametrize("chosen", ["00004", "00008"])
def test_split_legacy_ward_resolves_to_the_named_candidate(chosen):
    """A split legacy ward with `new_commune_code` naming one of its communes resolves to that commune."""
    unit = resolve_unit("00016", "legacy", new_commune_code=chosen)
    assert (unit.commune_code, unit.given_code, unit.given_system) == (chosen, "00016", "legacy")
    assert unit.legacy_name == "Phường Ngọc Hà, Quận Ba Đình, Thành phố Hà Nội"


@pytest.mark.parametrize("wrong", ["00025", "00016", "0004", "٠٠٠٠٨", ""])
def test_split_legacy_ward_refuses_a_commune_it_did_not_become(wrong):
    """A `new_commune_code` that is not among the communes the split ward became is still `unit.ambiguous`,
    saying so and offering the right ones."""
    with pytest.raises(UnitAmbiguous) as ambiguous:
        resolve_unit("00016", "legacy", new_commune_code=wrong)
    assert ambiguous.value.candidates == NGOC_HA_CANDIDATES
    assert f"'{wrong}' không phải là một trong các đơn vị" in ambiguous.value.message


def test_code_in_both_systems_is_never_reinterpreted():
    """`00025` is Phường Giảng Võ in 2025 but was Phường Ngọc Khánh, split over three wards, before: each
    system resolves it in its own table."""
    assert resolve_unit("00025", "2025").commune_name == "Phường Giảng Võ"
    with pytest.raises(UnitAmbiguous) as ambiguous:
        resolve_unit("00025", "legacy")
    assert "Phường Ngọc Khánh, Quận Ba Đình" in ambiguous.value.message
    assert [c["name"] for c in ambiguous.value.candidates] == ["Phường Ngọc Hà", "Phường Giảng Võ", "Phường Láng"]
    assert resolve_unit("00025", "legacy", new_commune_code="00199").commune_name == "Phường Láng"


def test_code_of_one_system_only_is_unknown_in_the_other():
    """A legacy-only code is unknown as a 2025 code, and a 2025-only code is unknown as a legacy code."""
    assert resolve_unit("00013", "legacy").commune_code == "00004"
    with pytest.raises(UnitUnknown):
        resolve_unit("00013", "2025")
    assert resolve_unit("26732", "2025").commune_name == "Đặc khu Côn Đảo"
    with pytest.raises(UnitUnknown):
        resolve_unit("26732", "legacy")


def test_legacy_ward_missing_from_conversion_table_is_unknown_naming_it():
    """A legacy ward the official conversion table does not carry is `unit.unknown`, naming the ward."""
    with pytest.raises(UnitUnknown) as unknown:
        resolve_unit("01651", "legacy")
    assert unknown.value.message.startswith("Xã Mỹ Hưng, Huyện Quảng Hòa, Tỉnh Cao Bằng (mã cũ 01651)")


@pytest.mark.parametrize("system", ["2025", "legacy"])
@pytest.mark.parametrize("code", ["99999", "٠٠٠٠٤", "0004", "000004", "", "00 04", "0000４", "001", "01"])
def test_unknown_and_malformed_codes_are_unknown(system, code):
    """Codes of neither table, non-ASCII digits, wrong lengths, legacy district/province codes and the empty
    string are `unit.unknown` in both systems, with the given field."""
    with pytest.raises(UnitUnknown) as unknown:
        resolve_unit(code, system, field="f")
    assert (unknown.value.code, unknown.value.field) == ("unit.unknown", "f")


def test_unsupported_code_system_is_unknown():
    """A code system other than `2025` and `legacy` is `unit.unknown`."""
    with pytest.raises(UnitUnknown):
        resolve_unit("00004", "1999")  # type: ignore[arg-type]


def test_every_legacy_code_resolves_to_its_official_communes():
    """Every legacy ward code resolves, or is ambiguous among, exactly the communes the conversion table
    gives, and only the 28 wards the table lacks are unknown."""
    unknown, ambiguous = [], 0
    for code in LEGACY_CODES:
        official = (
            sorted(f"{new.code:05d}" for new in OLD_TO_NEW[int(code)].new_wards) if int(code) in OLD_TO_NEW else []
        )
        try:
            unit = resolve_unit(code, "legacy")
            assert [unit.commune_code] == official
        except UnitAmbiguous as error:
            ambiguous += 1
            assert [c["code"] for c in error.candidates] == official and len(official) > 1
        except UnitUnknown:
            unknown.append(code)
            assert official == []
    assert len(unknown) == 28
    assert ambiguous == sum(len(entry.new_wards) > 1 for entry in OLD_TO_NEW.values())


@settings(max_examples=500, deadline=None)
@given(
    code=st.sampled_from(LEGACY_CODES) | st.sampled_from(COMMUNES_2025) | st.text(max_size=7),
    system=st.sampled_from(["2025", "legacy"]),
    new_commune_code=st.none() | st.sampled_from(COMMUNES_2025) | st.text(max_size=6),
)
def test_resolve_raises_only_unit_errors_and_resolves_to_2025_communes(code, system, new_commune_code):
    """Whatever the code, system and chosen commune, resolution gives a 2025 commune of the tables, in the
    province the tables say, or raises `unit.unknown` / `unit.ambiguous`."""
    try:
        unit = resolve_unit(code, system, new_commune_code=new_commune_code)
    except (UnitUnknown, UnitAmbiguous):
        return
    assert unit.commune_code in COMMUNES_2025_SET
    ward = Ward.from_code(int(unit.commune_code))
    assert (unit.commune_name, unit.province_code) == (ward.name, f"{int(ward.province_code):02d}")
    assert (unit.given_code, unit.given_system) == (code, system)
    assert (unit.legacy_name is None) == (system == "2025")
    if new_commune_code is not None:
        assert unit.commune_code == new_commune_code


def test_resolution_is_fast():
    """100,000 random resolutions in both systems take well under two seconds (indexes built once)."""
    pool = [(code, "legacy") for code in LEGACY_CODES] + [(code, "2025") for code in COMMUNES_2025] + [("x", "2025")]
    rng = random.Random(7)
    calls = [rng.choice(pool) for _ in range(100_000)]
    resolve_unit("00004", "legacy")  # first use builds the indexes
    started = time.perf_counter()
    for code, system in calls:
        try:
            resolve_unit(code, system)  # type: ignore[arg-type]
        except (UnitUnknown, UnitAmbiguous):
            pass
    assert time.perf_counter() - started < 2.0


# --- over HTTP --------------------------------------------------------------------------------------


def _with_residence(**residence: str) -> dict:
    body = postal_dossier()
    body["applicant"]["residence"] = {"code_system": "legacy", "address_line": "5 phố Đội Cấn", **residence}
    return body


async def test_split_legacy_residence_is_422_then_201_with_the_chosen_commune(client, orgs):
    """A dossier whose residence is a split legacy ward is 422 `unit.ambiguous` with the candidates; naming
    one of them as `new_commune_code` files it, the receipt showing the legacy code given and the commune."""
    headers = {**orgs.postal.auth, "Idempotency-Key": "units-1"}
    refused = await client.post("/v1/dossiers", json=_with_residence(unit_code="00016"), headers=headers)
    assert refused.status == 422, await refused.text()
    problem = await refused.json()
    assert problem["code"] == "unit.ambiguous"
    assert problem["errors"][0]["type"] == "unit.ambiguous"
    assert problem["errors"][0]["field"].startswith("applicant.residence")
    assert problem["errors"][0]["candidates"] == NGOC_HA_CANDIDATES

    body = _with_residence(unit_code="00016", new_commune_code="00008")
    filed = await client.post("/v1/dossiers", json=body, headers={**orgs.postal.auth, "Idempotency-Key": "units-2"})
    assert filed.status == 201, await filed.text()
    receipt = await filed.json()
    residence = receipt["routing"]["residence"]
    assert {key: residence[key] for key in ("given_code", "given_system", "commune_code", "commune_name")} == {
        "given_code": "00016",
        "given_system": "legacy",
        "commune_code": "00008",
        "commune_name": "Phường Ngọc Hà",
    }
    assert residence["province_code"] == "01"
    assert receipt["agency"]["identifier"] == "000.00.10.H26"
