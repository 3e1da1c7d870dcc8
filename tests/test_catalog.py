"""The procedure catalog and agency directory (pure): the bundled data, versions by date, validation with
file, line and field, and `motcua catalog check`."""

import json
import os
import subprocess
from datetime import date
from pathlib import Path

import pytest
from vietnam_provinces import Province, Ward

from mapping import Agency, CatalogInvalid, ProcedureUnknown, check_catalog, load_catalog
from mapping.catalog import AGENCIES_FILE, CATALOG_DIR, PROCEDURES_FILE, Procedure, read_jsonl
from mapping.data import build_agencies
from mapping.directory import IDENTIFIER, PROVINCE_H_CODES, generated_agencies
from mapping.errors import CatalogProblem
from tests.processes import MOTCUA

BUNDLED = load_catalog()
PROVINCES = {f"{int(p.code):02d}" for p in Province.iter_all()}
COMMUNES = {f"{int(w.code):05d}" for w in Ward.iter_all()}
SECTORS = {
    "Hộ tịch",
    "Cư trú",
    "Xuất nhập cảnh",
    "Bảo hiểm xã hội",
    "Thuế",
    "Giấy phép lái xe",
    "Lý lịch tư pháp",
    "Chứng thực",
    "Đăng ký kinh doanh",
    "Đất đai",
}
COMPOSITE = "2.000986"


def procedure(code: str = "9.999999", **fields) -> dict:
    return {
        "code": code,
        "name": "Thủ tục thử",
        "sector": "Thử",
        "level": "province",
        "agency_kind": "so_tu_phap",
        "jurisdiction": "applicant_residence",
        "processing": {"amount": 5, "unit": "working_days"},
        **fields,
    }


def agency(identifier: str = "000.00.10.H26", **fields) -> dict:
    return {
        "identifier": identifier,
        "name": "Sở Tư pháp thành phố Hà Nội",
        "kind": "so_tu_phap",
        "level": "province",
        "province_code": "01",
        **fields,
    }


def write_catalog(folder: Path, procedures: list[dict | str], agencies: list[dict | str]) -> Path:
    """A catalog folder whose line 1 is a comment, so entry n is on line n + 1; strings are written raw."""
    for name, entries in ((PROCEDURES_FILE, procedures), (AGENCIES_FILE, agencies)):
        lines = ["# test catalog"] + [e if isinstance(e, str) else json.dumps(e, ensure_ascii=False) for e in entries]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def where(problems: list[CatalogProblem]) -> set[tuple[str, int, str]]:
    return {(p.file, p.line, p.field) for p in problems}


# The bundled catalog


def test_bundled_catalog_is_valid_and_covers_every_sector():
    """The bundled catalog loads without a problem, with at least 30 procedures across the sectors the public
    plans name for intake regardless of boundaries."""
    catalog, problems = check_catalog()
    assert problems == [] and catalog is not None
    procedures = BUNDLED.procedures()
    assert len(procedures) >= 30
    assert {p.sector for p in procedures} >= SECTORS
    assert any(p.same_day_cutoff is not None for p in procedures)
    assert any(p.jurisdiction == "subject_location" and p.non_geographic == "province" for p in procedures)


def test_bundled_catalog_keeps_the_entries_the_gateway_relies_on():
    """The demo codes, components and agency the gateway and its tests use are still there."""
    today = date(2026, 11, 21)
    judicial = BUNDLED.procedure("2.000488", today)
    assert [c.code for c in judicial.components] == ["TK_LLTP", "UQ"]
    assert sum(fee.amount for fee in judicial.fees) == 200000
    assert BUNDLED.agencies["000.00.10.H26"].name == "Sở Tư pháp thành phố Hà Nội"
    assert BUNDLED.agencies["000.00.10.H17"].name == "Sở Tư pháp thành phố Đà Nẵng"
    assert not BUNDLED.procedure("DEMO.CT.01", today).postal_intake
    assert BUNDLED.procedure("DEMO.DD.01", today).jurisdiction == "subject_location"
    assert {c.code for c in BUNDLED.procedure("1.001193", today).components} == {"TK_KS", "GCS"}


def test_composite_procedure_has_three_ordered_steps_to_three_kinds():
    """Birth registration, permanent residence and a health-insurance card for a child under 6: three steps,
    ordered 1, 2, 3, at the commune People's Committee, the commune police and provincial social insurance."""
    composite = BUNDLED.procedure(COMPOSITE, date(2026, 1, 1))
    assert composite.name == (
        "Liên thông thủ tục hành chính về đăng ký khai sinh, đăng ký thường trú, "
        "cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi"
    )
    steps = sorted(composite.steps, key=lambda s: s.order)
    assert [s.order for s in steps] == [1, 2, 3]
    assert [(s.agency_kind, s.level) for s in steps] == [
        ("ubnd_xa", "commune"),
        ("cong_an_xa", "commune"),
        ("bhxh_tinh", "province"),
    ]
    assert (composite.agency_kind, composite.level) == (steps[0].agency_kind, steps[0].level)


@pytest.mark.parametrize("version", list(BUNDLED.all_versions()), ids=lambda p: f"{p.code}@{p.effective_from}")
def test_every_procedure_has_a_competent_agency_in_every_province_and_commune(version: Procedure):
    """Wherever the applicant lives (or the land lies), each procedure and each of its steps has an agency
    of its kind at its level: in all 34 provinces, or in all 3,321 communes. This is what makes filing
    anywhere possible."""
    for part in (version, *version.steps):
        if part.jurisdiction == "fixed":
            assert part.fixed_agency in BUNDLED.agencies
        elif part.level == "province":
            assert {p for p in PROVINCES if BUNDLED.agencies_in_province(part.agency_kind, p)} == PROVINCES
        elif part.level == "commune":
            assert {c for c in COMMUNES if BUNDLED.agencies_in_commune(part.agency_kind, c)} == COMMUNES
        else:
            assert BUNDLED.agencies_of_kind(part.agency_kind)


def test_bundled_versions_follow_the_fee_reduction():
    """Private-enterprise registration: the halved fee until 31 Dec 2026, the full fee from 1 Jan 2027."""
    fee = lambda day: sum(f.amount for f in BUNDLED.procedure("2.001610", day).fees)  # noqa: E731
    assert fee(date(2025, 7, 1)) == fee(date(2026, 12, 31)) == 25000
    assert fee(date(2027, 1, 1)) == fee(date(2030, 6, 1)) == 50000
    with pytest.raises(ProcedureUnknown):
        BUNDLED.procedure("2.001610", date(2025, 6, 30))


def test_local_codes_are_marked_and_national_codes_are_not():
    """A code not of the national form is flagged local_code; every entry names its source."""
    for version in BUNDLED.all_versions():
        national = version.code[0].isdigit()
        assert version.local_code is not national, version.code
        assert version.source, version.code


# The agency directory


def test_generated_agencies_validate_and_every_identifier_is_unique():
    """Every generated agency passes full validation; identifiers are unique across the whole directory and
    all have the national shape, with the province's H-code."""
    generated = generated_agencies()
    assert len(generated) == 2 * len(COMMUNES)
    for generated_agency in generated:
        assert Agency.model_validate(generated_agency.model_dump()) == generated_agency
    listed = read_jsonl(CATALOG_DIR / AGENCIES_FILE, Agency, problems := [])
    assert problems == []
    everyone = [a for _, a in listed] + list(generated)
    assert len({a.identifier for a in everyone}) == len(everyone) == len(BUNDLED.agencies)
    for each in everyone:
        assert IDENTIFIER.fullmatch(each.identifier), each.identifier
        assert each.identifier.endswith(PROVINCE_H_CODES[each.province_code])
    assert {(a.kind, a.commune_code) for a in generated} == {
        (kind, c) for kind in ("ubnd_xa", "cong_an_xa") for c in COMMUNES
    }


def test_h_codes_are_distinct_and_cover_the_34_provinces():
    assert set(PROVINCE_H_CODES) == PROVINCES
    assert len(set(PROVINCE_H_CODES.values())) == 34


def test_listed_agencies_are_what_the_build_script_writes():
    """agencies.jsonl is generated deterministically; the bundled file is up to date with the script."""
    assert (CATALOG_DIR / AGENCIES_FILE).read_text(encoding="utf-8") == build_agencies.render()
    assert build_agencies.render() == build_agencies.render()


# Versions by date


def test_versions_by_effective_from_pick_the_one_in_force(tmp_path):
    """procedure(code, on=day) returns the latest version not after that day (whatever the line order); a
    day before the first version, or an unknown code, raises ProcedureUnknown on procedure_code."""
    later = procedure(processing={"amount": 5, "unit": "working_days"}, effective_from="2026-01-01")
    earlier = procedure(processing={"amount": 10, "unit": "working_days"}, effective_from="2025-07-01")
    catalog = load_catalog(write_catalog(tmp_path, [later, earlier], [agency()]))
    for day, amount in [(date(2025, 7, 1), 10), (date(2025, 12, 31), 10), (date(2026, 1, 1), 5), (date(2027, 6, 1), 5)]:
        assert catalog.procedure("9.999999", on=day).processing.amount == amount
    with pytest.raises(ProcedureUnknown) as before:
        catalog.procedure("9.999999", on=date(2025, 6, 30))
    assert before.value.field == "procedure_code"
    with pytest.raises(ProcedureUnknown):
        catalog.procedure("0.000000", on=date(2026, 1, 1))
    assert [p.processing.amount for p in catalog.procedures()] == [5]


# Validation with file, line and field


def test_check_catalog_names_file_line_and_field_of_every_problem(tmp_path):
    """Each injected error is reported with its file, line and field; nothing is loaded."""
    write_catalog(
        tmp_path,
        [
            procedure("9.000001"),  # line 2: fine
            procedure("9.000002", processing_dayz=3),  # line 3: unknown field
            '{"code": "9.000003", "name": ',  # line 4: not JSON
            procedure("9.000004", jurisdiction="fixed", fixed_agency="000.00.99.G01", level="central"),  # line 5
            procedure("9.000005", agency_kind="so_y_te"),  # line 6: no agency of that kind
            procedure(  # line 7: a step kind missing and orders with a gap
                "9.000006",
                level="commune",
                agency_kind="ubnd_xa",
                steps=[
                    {
                        "order": 1,
                        "name": "Bước 1",
                        "level": "commune",
                        "agency_kind": "ubnd_xa",
                        "jurisdiction": "applicant_residence",
                        "processing": {"amount": 1, "unit": "working_days"},
                    },
                    {
                        "order": 3,
                        "name": "Bước 3",
                        "level": "province",
                        "agency_kind": "bhxh_tinh",
                        "jurisdiction": "applicant_residence",
                        "processing": {"amount": 1, "unit": "working_days"},
                    },
                ],
            ),
            procedure("9.000001"),  # line 8: a second version from the same day
            "[1, 2]",  # line 9: JSON, but not an object
        ],
        [
            agency(),  # line 2
            agency(name="Bản trùng"),  # line 3: duplicate identifier
            agency("000.04.00.H26", kind="ubnd_xa", level="commune", commune_code="00004"),  # line 4: generated
            agency("000.00.20.H26", level="province", province_code=None),  # line 5: province missing
        ],
    )
    catalog, problems = check_catalog(tmp_path)
    assert catalog is None
    assert where(problems) == {
        (PROCEDURES_FILE, 3, "processing_dayz"),
        (PROCEDURES_FILE, 4, ""),
        (PROCEDURES_FILE, 5, "fixed_agency"),
        (PROCEDURES_FILE, 6, "agency_kind"),
        (PROCEDURES_FILE, 7, "steps.1.agency_kind"),
        (PROCEDURES_FILE, 7, "steps.1.order"),
        (PROCEDURES_FILE, 8, "effective_from"),
        (PROCEDURES_FILE, 9, ""),
        (AGENCIES_FILE, 3, "identifier"),
        (AGENCIES_FILE, 4, "identifier"),
        (AGENCIES_FILE, 5, "province_code"),
    }
    messages = {(p.line, p.field): p.message for p in problems if p.file == PROCEDURES_FILE}
    assert messages[(4, "")].startswith("not valid JSON")
    assert "000.00.99.G01" in messages[(5, "fixed_agency")]
    assert "so_y_te" in messages[(6, "agency_kind")]
    assert "1, 3" in messages[(7, "steps.1.order")]
    assert str(next(p for p in problems if p.line == 3 and p.file == PROCEDURES_FILE)).startswith(
        "procedures.jsonl:3: processing_dayz: "
    )
    with pytest.raises(CatalogInvalid, match="processing_dayz"):
        load_catalog(tmp_path)


def test_read_jsonl_skips_comments_and_refuses_duplicate_keys(tmp_path):
    """Blank and # lines are skipped (numbers stay physical lines); a key given twice is an error, not a
    silent overwrite; an unreadable file is reported on line 0."""
    path = tmp_path / AGENCIES_FILE
    path.write_text(
        "\n# comment\n"
        + json.dumps(agency())
        + "\n"
        + '{"identifier": "000.00.10.H17", "identifier": "000.00.10.H29", "name": "x", "kind": "k", '
        + '"level": "central"}\n',
        encoding="utf-8",
    )
    problems: list[CatalogProblem] = []
    entries = read_jsonl(path, Agency, problems)
    assert [number for number, _ in entries] == [3]
    assert [(p.line, p.field) for p in problems] == [(4, "")] and "duplicate key 'identifier'" in problems[0].message
    missing: list[CatalogProblem] = []
    assert read_jsonl(tmp_path / "nothing.jsonl", Agency, missing) == []
    assert [(p.file, p.line) for p in missing] == [("nothing.jsonl", 0)]


def test_steps_running_in_parallel_may_share_an_order(tmp_path):
    """Orders 1, 2, 2 are fine (two steps in parallel); only gaps and a missing 1 are errors."""
    step = {
        "name": "Bước",
        "level": "commune",
        "agency_kind": "ubnd_xa",
        "jurisdiction": "applicant_residence",
        "processing": {"amount": 1, "unit": "working_days"},
    }
    parallel = procedure(
        "9.000001", level="commune", agency_kind="ubnd_xa", steps=[{**step, "order": o} for o in (1, 2, 2)]
    )
    no_first = procedure(
        "9.000002", level="commune", agency_kind="ubnd_xa", steps=[{**step, "order": o} for o in (2, 3)]
    )
    _, problems = check_catalog(write_catalog(tmp_path, [parallel, no_first], [agency()]))
    assert where(problems) == {(PROCEDURES_FILE, 3, "steps.0.order")}


# `motcua catalog`


def motcua(*args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MOTCUA_")}
    return subprocess.run([str(MOTCUA), *args], capture_output=True, text=True, env=env, timeout=60)


def test_catalog_check_command_fails_naming_file_line_and_field(tmp_path):
    """`motcua catalog check --dir` on a broken folder exits 1 and prints file:line: field: message."""
    write_catalog(tmp_path, [procedure("9.000001"), procedure("9.000002", processing_dayz=3)], [agency()])
    checked = motcua("catalog", "check", "--dir", str(tmp_path))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "procedures.jsonl:3: processing_dayz: " in checked.stdout


def test_catalog_check_command_passes_on_the_bundled_catalog():
    """On the bundled catalog it exits 0 with a summary: procedures, versions, agencies, sectors."""
    checked = motcua("catalog", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    versions = sum(1 for _ in BUNDLED.all_versions())
    assert f"procedures: {len(BUNDLED.procedures())} ({versions} versions)" in checked.stdout
    assert f"{len(generated_agencies())} generated" in checked.stdout
    assert "  Hộ tịch: " in checked.stdout
    assert "ubnd_xa (commune): 3321/3321 communes" in checked.stdout


def test_catalog_list_command_prints_one_procedure_per_line():
    listed = motcua("catalog", "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert len(rows) == len(BUNDLED.procedures())
    by_code = {row[0]: row for row in rows}
    assert by_code["2.000488"][1:] == [
        "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
        "Lý lịch tư pháp",
        "province",
        "so_tu_phap",
        "nationwide",
    ]
    assert by_code[COMPOSITE][4] == "ubnd_xa → cong_an_xa → bhxh_tinh"
