"""The procedure catalog and agency directory (pure): versions by date, validation at load."""

import json
from datetime import date

import pytest

from mapping import Catalog, ProcedureUnknown
from mapping.errors import CatalogInvalid



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
