"""Errors of the mapping layer, each with a stable code; the gateway turns them into 422 problems.

MappingError
├── ProcedureUnknown     procedure.unknown      no such procedure in force on that day
├── ProcedureNotPostal   procedure.not_postal   filed by post, but the procedure does not allow it
├── IntakeOutOfScope     intake.out_of_scope    the intake point may not take this procedure
├── UnitUnknown          unit.unknown           no such unit in the given code system (or none given)
├── UnitAmbiguous        unit.ambiguous         a legacy ward split over several communes
└── NoCompetentAgency    agency.none_competent  no agency in the directory decides it for that unit

CatalogInvalid           the catalog files break their schema (at load, and `motcua catalog check`)
"""

from dataclasses import dataclass, field


class MappingError(Exception):
    code = "mapping.error"

    def __init__(self, message: str, *, field: str | None = None, candidates: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.candidates = candidates or []


class ProcedureUnknown(MappingError):
    code = "procedure.unknown"


class ProcedureNotPostal(MappingError):
    code = "procedure.not_postal"


class IntakeOutOfScope(MappingError):
    code = "intake.out_of_scope"


class UnitUnknown(MappingError):
    code = "unit.unknown"


class UnitAmbiguous(MappingError):
    code = "unit.ambiguous"


class NoCompetentAgency(MappingError):
    code = "agency.none_competent"


@dataclass(frozen=True)
class CatalogProblem:
    file: str
    line: int  # 1-based line of the entry in its file; 0 when the problem is not tied to one line
    field: str  # dotted path inside the entry, or "" for the entry as a whole
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field or '(entry)'}: {self.message}"


@dataclass
class CatalogInvalid(Exception):
    problems: list[CatalogProblem] = field(default_factory=list)

    def __str__(self) -> str:
        return "catalog invalid:\n" + "\n".join(str(p) for p in self.problems)
