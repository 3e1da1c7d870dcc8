"""Competent-agency routing: which agency decides a dossier, wherever it was filed, and why.

`decide` is the one entry point. It returns a `Decision` with its explanation, or raises a `MappingError`
with a stable code (see mapping/errors.py), and nothing else.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from mapping.calendar import VN_TZ
from mapping.catalog import Agency, Catalog, Procedure, Step
from mapping.errors import IntakeOutOfScope, NoCompetentAgency, ProcedureNotPostal, UnitUnknown
from mapping.units import CodeSystem, ResolvedUnit, resolve_unit

LEVEL_NAMES = {"central": "trung ương", "province": "tỉnh", "commune": "xã"}
BASIS_NAMES = {
    "applicant_residence": "nơi cư trú của người nộp",
    "subject_location": "nơi có đối tượng (đất đai, tài sản)",
    "any_of_kind": "bất kỳ cơ quan cùng loại",
    "fixed": "cơ quan được chỉ định",
}


@dataclass(frozen=True, slots=True)
class UnitInput:
    """A unit as given: its code, the code system it belongs to, and, for a legacy ward split over several
    communes, the new commune the applicant names."""

    code: str
    system: CodeSystem = "2025"
    new_commune_code: str | None = None


@dataclass(frozen=True, slots=True)
class IntakePoint:
    channel: Literal["postal", "counter", "online"]
    unit: ResolvedUnit | None = None  # where it was filed; None for the online portal


@dataclass(frozen=True, slots=True)
class RoutingRequest:
    procedure_code: str
    residence: UnitInput
    intake: IntakePoint
    at: datetime
    subject: UnitInput | None = None


@dataclass(frozen=True, slots=True)
class StepDecision:
    order: int
    name: str
    agency: Agency
    basis: str
    unit: ResolvedUnit | None
    rule: str  # Vietnamese sentence: why this agency

    def explain(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "name": self.name,
            "basis": self.basis,
            "rule": self.rule,
            "agency": {"identifier": self.agency.identifier, "name": self.agency.name},
            "unit": self.unit.as_dict() if self.unit else None,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    procedure: Procedure
    steps: tuple[StepDecision, ...]
    residence: ResolvedUnit
    subject: ResolvedUnit | None
    intake: IntakePoint

    @property
    def agency(self) -> Agency:
        """The agency the dossier is coded under and delivered to first."""
        return self.steps[0].agency

    @property
    def basis(self) -> str:
        return self.steps[0].basis

    def explain(self) -> dict[str, Any]:
        return {
            "procedure": {
                "code": self.procedure.code,
                "name": self.procedure.name,
                "effective_from": self.procedure.effective_from.isoformat(),
            },
            "basis": self.basis,
            "rule": self.steps[0].rule,
            "non_geographic": self.procedure.non_geographic,
            "intake": {
                "channel": self.intake.channel,
                "unit": self.intake.unit.as_dict() if self.intake.unit else None,
            },
            "steps": [step.explain() for step in self.steps],
        }


def _single_step(procedure: Procedure) -> Step:
    return Step(
        order=1,
        name=procedure.name,
        level=procedure.level,
        agency_kind=procedure.agency_kind,
        jurisdiction=procedure.jurisdiction,
        fixed_agency=procedure.fixed_agency,
        processing=procedure.processing,
    )


def _in_unit(catalog: Catalog, step: Step, unit: ResolvedUnit) -> list[Agency]:
    if step.level == "commune":
        return catalog.agencies_in_commune(step.agency_kind, unit.commune_code)
    if step.level == "province":
        return catalog.agencies_in_province(step.agency_kind, unit.province_code)
    return catalog.agencies_of_kind(step.agency_kind)


def _place(unit: ResolvedUnit, level: str) -> str:
    return unit.province_name if level != "commune" else f"{unit.commune_name}, {unit.province_name}"


def _decide_step(
    catalog: Catalog,
    procedure: Procedure,
    step: Step,
    residence: ResolvedUnit,
    subject: ResolvedUnit | None,
    intake: IntakePoint,
) -> StepDecision:
    level = LEVEL_NAMES[step.level]
    if step.jurisdiction == "fixed":
        agency = catalog.agencies.get(step.fixed_agency or "")
        if agency is None:
            raise NoCompetentAgency(f"Cơ quan được chỉ định '{step.fixed_agency}' không có trong danh mục.")
        return StepDecision(step.order, step.name, agency, "fixed", None, f"Thủ tục chỉ do {agency.name} giải quyết.")
    if step.jurisdiction == "subject_location":
        if subject is None:
            raise UnitUnknown(
                f"Thủ tục {procedure.code} được giải quyết theo nơi có đối tượng (đất đai, tài sản): "
                "cần khai địa điểm của đối tượng.",
                field="subject_location",
            )
        agencies = _in_unit(catalog, step, subject)
        unit = subject
    elif step.jurisdiction == "any_of_kind":
        # Any agency of the kind may decide: prefer the one where the dossier was filed, then the residence.
        for unit in (u for u in (intake.unit, residence) if u is not None):
            agencies = _in_unit(catalog, step, unit)
            if agencies:
                where = "nơi tiếp nhận" if unit is intake.unit else "nơi cư trú"
                return StepDecision(
                    step.order,
                    step.name,
                    agencies[0],
                    "any_of_kind",
                    unit,
                    f"Thủ tục cấp {level}, mọi cơ quan cùng loại đều giải quyết được; chọn cơ quan "
                    f"tại {where} ({_place(unit, step.level)}): {agencies[0].name}.",
                )
        agencies, unit = catalog.agencies_of_kind(step.agency_kind), residence
    else:
        agencies, unit = _in_unit(catalog, step, residence), residence
    if not agencies:
        raise NoCompetentAgency(
            f"Chưa có cơ quan có thẩm quyền giải quyết '{step.name}' cho {_place(unit, step.level)} "
            "trong danh mục cơ quan.",
            field="subject_location" if unit is subject else "applicant.residence",
        )
    agency = agencies[0]
    return StepDecision(
        step.order,
        step.name,
        agency,
        step.jurisdiction,
        unit,
        f"Thủ tục cấp {level}, giải quyết theo {BASIS_NAMES[step.jurisdiction]} "
        f"({_place(unit, step.level)}): {agency.name}.",
    )


def _check_scope(procedure: Procedure, first: StepDecision, intake: IntakePoint) -> None:
    """Non-geographic scope: nationwide anywhere; `province` only within the agency's province; `none`
    only at the competent agency's own unit. The online portal (no intake unit) is not bound."""
    if intake.unit is None or procedure.non_geographic == "nationwide":
        return
    agency = first.agency
    inside = agency.province_code is None or intake.unit.province_code == agency.province_code
    if procedure.non_geographic == "none" and agency.commune_code:
        inside = intake.unit.commune_code == agency.commune_code
    if not inside:
        scope = "trong tỉnh" if procedure.non_geographic == "province" else "tại cơ quan giải quyết"
        raise IntakeOutOfScope(
            f"Thủ tục '{procedure.name}' chỉ được tiếp nhận {scope} ({agency.name}); nơi tiếp nhận "
            f"{_place(intake.unit, 'commune')} không thuộc phạm vi đó.",
            field="channel",
        )


def decide(catalog: Catalog, request: RoutingRequest) -> Decision:
    procedure = catalog.procedure(request.procedure_code, request.at.astimezone(VN_TZ).date())
    if request.intake.channel == "postal" and not procedure.postal_intake:
        raise ProcedureNotPostal(
            f"Thủ tục '{procedure.name}' không tiếp nhận hồ sơ qua dịch vụ bưu chính công ích.",
            field="procedure_code",
        )
    residence = resolve_unit(
        request.residence.code,
        request.residence.system,
        new_commune_code=request.residence.new_commune_code,
        field="applicant.residence.unit_code",
    )
    subject = None
    if request.subject is not None:
        subject = resolve_unit(
            request.subject.code,
            request.subject.system,
            new_commune_code=request.subject.new_commune_code,
            field="subject_location.unit_code",
        )
    steps = procedure.steps or (_single_step(procedure),)
    decided = tuple(
        _decide_step(catalog, procedure, step, residence, subject, request.intake)
        for step in sorted(steps, key=lambda s: s.order)
    )
    _check_scope(procedure, decided[0], request.intake)
    return Decision(procedure, decided, residence, subject, request.intake)
