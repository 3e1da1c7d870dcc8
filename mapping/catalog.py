"""Procedure catalog and agency directory, validated once at load.

The file schema is documented in `mapping/data/README.md`. Entries carry `effective_from` so a rule can
change by date: `Catalog.procedure(code, on=day)` returns the version in force on that day.
"""

import json
from bisect import bisect_right
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mapping.errors import CatalogInvalid, ProcedureUnknown

DEMO_CATALOG = Path(__file__).parent / "data" / "demo_catalog.json"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Component(_Entry):
    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    required: bool = True


class Fee(_Entry):
    kind: Literal["fee", "charge"]
    name: str
    amount: int = Field(ge=0, description="VND")


class ProcessingTime(_Entry):
    amount: float = Field(gt=0)
    unit: Literal["working_days", "working_hours", "calendar_days"]


class Procedure(_Entry):
    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    sector: str
    level: Literal["central", "province", "commune"]
    agency_kind: str
    jurisdiction: Literal["applicant_residence", "subject_location", "any_of_kind", "fixed"]
    fixed_agency: str | None = None
    non_geographic: Literal["nationwide", "province", "none"] = "nationwide"
    postal_intake: bool = True
    postal_return: bool = True
    processing: ProcessingTime
    fees: tuple[Fee, ...] = ()
    components: tuple[Component, ...] = ()
    effective_from: date = date(2025, 7, 1)
    local_code: bool = Field(default=False, description="True when the code is not a national one.")


class Agency(_Entry):
    identifier: str = Field(pattern=r"^[0-9A-Z.]+$", description="Electronic identifier, e.g. 000.00.01.H26")
    name: str
    kind: str
    level: Literal["central", "province", "commune"]
    province_code: str | None = Field(default=None, pattern=r"^\d{2}$")
    commune_code: str | None = Field(default=None, pattern=r"^\d{5}$")


class CatalogFile(_Entry):
    source: str
    retrieved: date
    procedures: tuple[Procedure, ...]
    agencies: tuple[Agency, ...]


class Catalog:
    """Loaded tables with the look-ups routing needs; immutable after construction."""

    def __init__(self, data: CatalogFile) -> None:
        self.source = data.source
        versions: dict[str, list[Procedure]] = defaultdict(list)
        for procedure in data.procedures:
            versions[procedure.code].append(procedure)
        self._versions = {code: sorted(v, key=lambda p: p.effective_from) for code, v in versions.items()}
        self.agencies = {agency.identifier: agency for agency in data.agencies}
        self._by_kind: dict[str, list[Agency]] = defaultdict(list)
        for agency in data.agencies:
            self._by_kind[agency.kind].append(agency)
        for procedure in data.procedures:
            if procedure.jurisdiction == "fixed" and procedure.fixed_agency not in self.agencies:
                raise CatalogInvalid(f"procedure {procedure.code}: fixed_agency names no known agency")

    def procedure(self, code: str, on: date) -> Procedure:
        versions = self._versions.get(code)
        index = bisect_right([v.effective_from for v in versions], on) if versions else 0
        if not versions or index == 0:
            raise ProcedureUnknown(f"Thủ tục '{code}' không có trong danh mục.", field="procedure_code")
        return versions[index - 1]

    def agencies_of_kind(self, kind: str) -> list[Agency]:
        return self._by_kind.get(kind, [])

    def procedures(self) -> list[Procedure]:
        return [versions[-1] for versions in self._versions.values()]


def load_catalog(path: Path | None = None) -> Catalog:
    path = path or DEMO_CATALOG
    try:
        data = CatalogFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise CatalogInvalid(f"{path}: {exc}") from exc
    return Catalog(data)
