"""Procedure catalog and agency directory: JSON Lines files, validated once at load.

The files live in one folder (`mapping/data/catalog/` by default) and are documented in
`mapping/data/README.md`: `procedures.jsonl` and `agencies.jsonl`, one JSON object per line; blank lines
and lines starting with `#` are comments. Commune-level agencies for all 3,321 communes are generated
(`mapping/directory.py`) rather than listed. Every error names its file, line and field.

Entries carry `effective_from`, so a rule can change by date: `Catalog.procedure(code, on=day)` returns the
version in force on that day.
"""

import json
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mapping.errors import CatalogInvalid, CatalogProblem, ProcedureUnknown

CATALOG_DIR = Path(__file__).parent / "data" / "catalog"
PROCEDURES_FILE = "procedures.jsonl"
AGENCIES_FILE = "agencies.jsonl"

Level = Literal["central", "province", "commune"]
Jurisdiction = Literal["applicant_residence", "subject_location", "any_of_kind", "fixed"]


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


class Step(_Entry):
    """One agency's part of a composite (liên thông) procedure."""

    order: int = Field(ge=1, description="Steps with the same order run in parallel")
    name: str
    level: Level
    agency_kind: str
    jurisdiction: Jurisdiction
    fixed_agency: str | None = None
    processing: ProcessingTime


class Procedure(_Entry):
    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    sector: str
    level: Level
    agency_kind: str
    jurisdiction: Jurisdiction
    fixed_agency: str | None = None
    non_geographic: Literal["nationwide", "province", "none"] = "nationwide"
    postal_intake: bool = True
    postal_return: bool = True
    electronic_result: bool = Field(
        default=False, description="The result may be handed over as a file: the citizen downloads it with the PIN"
    )
    processing: ProcessingTime
    same_day_cutoff: time | None = Field(
        default=None, description="Same-day procedures: receipts after it count next day"
    )
    fees: tuple[Fee, ...] = ()
    components: tuple[Component, ...] = ()
    steps: tuple[Step, ...] = Field(default=(), description="Composite procedures: the agencies' steps in order")
    effective_from: date = date(2025, 7, 1)
    local_code: bool = Field(default=False, description="True when the code is not a national procedure code")
    source: str | None = Field(default=None, description="Where the entry's facts come from")


class Agency(_Entry):
    identifier: str = Field(pattern=r"^[0-9A-Z.]+$", description="Electronic identifier, e.g. 000.00.01.H26")
    name: str
    kind: str
    level: Level
    province_code: str | None = Field(default=None, pattern=r"^[0-9]{2}$")
    commune_code: str | None = Field(default=None, pattern=r"^[0-9]{5}$")
    delivery: Literal["pull", "push"] = "pull"
    demo_identifier: bool = Field(default=True, description="False only for identifiers from an official list")


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key '{key}'")
        seen[key] = value
    return seen


def read_jsonl[M: BaseModel](path: Path, model: type[M], problems: list[CatalogProblem]) -> list[tuple[int, M]]:
    """Parse one JSON Lines file into models, collecting every problem with its line and field.

    A line that is not a JSON object is reported as such (with the column of a syntax error); a line that
    is one is validated against `model`, each schema error naming its field.
    """
    entries: list[tuple[int, M]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(CatalogProblem(path.name, 0, "", f"cannot read: {exc}"))
        return entries
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            problems.append(CatalogProblem(path.name, number, "", f"not valid JSON: {exc.msg} (column {exc.colno})"))
            continue
        except ValueError as exc:
            problems.append(CatalogProblem(path.name, number, "", f"not valid JSON: {exc}"))
            continue
        if not isinstance(data, dict):
            problems.append(CatalogProblem(path.name, number, "", "expected one JSON object on the line"))
            continue
        try:
            entries.append((number, model.model_validate(data)))
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                location = ".".join(str(part) for part in error["loc"])
                problems.append(CatalogProblem(path.name, number, location, error["msg"]))
    return entries


class Catalog:
    """Loaded tables with the look-ups routing needs; immutable after construction."""

    def __init__(self, procedures: Iterable[Procedure], agencies: Iterable[Agency]) -> None:
        versions: dict[str, list[Procedure]] = defaultdict(list)
        for procedure in procedures:
            versions[procedure.code].append(procedure)
        self._versions = {code: sorted(v, key=lambda p: p.effective_from) for code, v in versions.items()}
        self._dates = {code: [p.effective_from for p in v] for code, v in self._versions.items()}
        self.agencies: dict[str, Agency] = {}
        self._by_kind_province: dict[tuple[str, str | None], list[Agency]] = defaultdict(list)
        self._by_kind_commune: dict[tuple[str, str], list[Agency]] = defaultdict(list)
        self._by_kind: dict[str, list[Agency]] = defaultdict(list)
        for agency in agencies:
            self.agencies[agency.identifier] = agency
            self._by_kind[agency.kind].append(agency)
            self._by_kind_province[(agency.kind, agency.province_code)].append(agency)
            if agency.commune_code:
                self._by_kind_commune[(agency.kind, agency.commune_code)].append(agency)

    def procedure(self, code: str, on: date) -> Procedure:
        versions = self._versions.get(code)
        index = bisect_right(self._dates[code], on) if versions else 0
        if not versions or index == 0:
            raise ProcedureUnknown(f"Thủ tục '{code}' không có trong danh mục.", field="procedure_code")
        return versions[index - 1]  # type: ignore[index]

    def procedures(self) -> list[Procedure]:
        """The latest version of every procedure."""
        return [versions[-1] for versions in self._versions.values()]

    def all_versions(self) -> Iterator[Procedure]:
        for versions in self._versions.values():
            yield from versions

    def agencies_of_kind(self, kind: str) -> list[Agency]:
        return self._by_kind.get(kind, [])

    def agencies_in_province(self, kind: str, province_code: str) -> list[Agency]:
        return self._by_kind_province.get((kind, province_code), [])

    def agencies_in_commune(self, kind: str, commune_code: str) -> list[Agency]:
        return self._by_kind_commune.get((kind, commune_code), [])


def _check_agencies(listed: list[tuple[int, Agency]], generated: Iterable[Agency]) -> list[CatalogProblem]:
    problems = []
    seen: dict[str, int] = {}
    generated_ids = {agency.identifier for agency in generated}
    for number, agency in listed:
        if agency.identifier in seen:
            message = f"duplicate of line {seen[agency.identifier]}"
        elif agency.identifier in generated_ids:
            message = "already the identifier of a generated commune agency"
        else:
            seen[agency.identifier] = number
            continue
        problems.append(CatalogProblem(AGENCIES_FILE, number, "identifier", f"{agency.identifier}: {message}"))
    for number, agency in listed:
        if agency.level != "central" and not agency.province_code:
            problems.append(CatalogProblem(AGENCIES_FILE, number, "province_code", f"required at {agency.level} level"))
        if agency.level == "commune" and not agency.commune_code:
            problems.append(CatalogProblem(AGENCIES_FILE, number, "commune_code", "required for a commune agency"))
    return problems


def _check_procedure(
    number: int, procedure: Procedure, known: set[str], kinds_at: set[tuple[str, str]]
) -> list[CatalogProblem]:
    """Cross-checks of one procedure version against the directory; every problem names its field."""
    problems = []
    parts: list[tuple[str, Step | Procedure]] = [("", procedure)]
    parts += [(f"steps.{i}.", step) for i, step in enumerate(procedure.steps)]
    for prefix, part in parts:
        if part.jurisdiction == "fixed":
            if part.fixed_agency is None:
                problems.append(
                    CatalogProblem(
                        PROCEDURES_FILE, number, f"{prefix}fixed_agency", "required with jurisdiction 'fixed'"
                    )
                )
        elif (part.agency_kind, part.level) not in kinds_at:
            problems.append(
                CatalogProblem(
                    PROCEDURES_FILE,
                    number,
                    f"{prefix}agency_kind",
                    f"no {part.level}-level agency of kind '{part.agency_kind}' in the directory",
                )
            )
        if part.fixed_agency is not None and part.fixed_agency not in known:
            problems.append(
                CatalogProblem(
                    PROCEDURES_FILE,
                    number,
                    f"{prefix}fixed_agency",
                    f"no agency '{part.fixed_agency}' in the directory",
                )
            )
    orders = sorted({step.order for step in procedure.steps})
    if orders and orders != list(range(1, len(orders) + 1)):
        first_wrong = next(o for i, o in enumerate(orders, start=1) if o != i)
        index = next(i for i, step in enumerate(procedure.steps) if step.order == first_wrong)
        problems.append(
            CatalogProblem(
                PROCEDURES_FILE,
                number,
                f"steps.{index}.order",
                f"step orders must run 1, 2, 3 … without gaps; found {', '.join(map(str, orders))}",
            )
        )
    return problems


def check_catalog(directory: Path | None = None) -> tuple[Catalog | None, list[CatalogProblem]]:
    """Load and cross-check the catalog folder; every problem is returned, none raised.

    Beyond the schema: agency identifiers are unique (listed and generated together), every agency kind a
    procedure or step names has at least one agency of that level in the directory, a `fixed` agency
    exists, composite steps are ordered 1, 2, 3 … without gaps, and no two versions of a procedure share
    an `effective_from`.
    """
    from mapping.directory import generated_agencies  # generation needs the unit tables only

    directory = directory or CATALOG_DIR
    problems: list[CatalogProblem] = []
    procedures = read_jsonl(directory / PROCEDURES_FILE, Procedure, problems)
    listed = read_jsonl(directory / AGENCIES_FILE, Agency, problems)
    generated = generated_agencies()
    problems += _check_agencies(listed, generated)
    agencies = [agency for _, agency in listed] + list(generated)
    known = {agency.identifier for agency in agencies}
    kinds_at = {(agency.kind, agency.level) for agency in agencies}
    versions: dict[tuple[str, date], int] = {}
    for number, procedure in procedures:
        key = (procedure.code, procedure.effective_from)
        if key in versions:
            problems.append(
                CatalogProblem(
                    PROCEDURES_FILE,
                    number,
                    "effective_from",
                    f"a version of {procedure.code} from that day is already on line {versions[key]}",
                )
            )
        versions.setdefault(key, number)
        problems += _check_procedure(number, procedure, known, kinds_at)
    if problems:
        return None, problems
    return Catalog((p for _, p in procedures), agencies), []


def load_catalog(directory: Path | None = None) -> Catalog:
    catalog, problems = check_catalog(directory)
    if catalog is None:
        raise CatalogInvalid(problems)
    return catalog


def dump_jsonl(entries: Iterable[BaseModel]) -> str:
    return "".join(
        json.dumps(e.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False) + "\n" for e in entries
    )
