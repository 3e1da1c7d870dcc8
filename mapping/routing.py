"""Competent-agency routing: which agency decides a dossier, wherever it was filed."""

from dataclasses import dataclass

from mapping.catalog import Agency, Catalog, Procedure
from mapping.errors import RoutingFailed
from mapping.units import ResolvedUnit


@dataclass(frozen=True, slots=True)
class Route:
    agency: Agency
    basis: str  # the jurisdiction rule that chose it
    unit: ResolvedUnit | None  # the unit the rule looked at


def route(
    catalog: Catalog,
    procedure: Procedure,
    residence: ResolvedUnit,
    subject: ResolvedUnit | None,
) -> Route:
    if procedure.jurisdiction == "fixed":
        return Route(catalog.agencies[procedure.fixed_agency or ""], "fixed", None)
    unit = residence
    if procedure.jurisdiction == "subject_location":
        if subject is None:
            raise RoutingFailed(
                f"Thủ tục {procedure.code} được giải quyết theo nơi có đối tượng (đất đai, tài sản): "
                "cần cho biết địa điểm của đối tượng.",
                field="subject_location",
            )
        unit = subject
    candidates = catalog.agencies_of_kind(procedure.agency_kind)
    if procedure.level == "commune":
        chosen = [a for a in candidates if a.commune_code == unit.commune_code]
    elif procedure.level == "province":
        chosen = [a for a in candidates if a.province_code == unit.province_code]
    else:
        chosen = list(candidates)
    if not chosen and procedure.jurisdiction == "any_of_kind":
        chosen = list(candidates)
    if not chosen:
        raise RoutingFailed(
            f"Chưa có cơ quan có thẩm quyền giải quyết thủ tục {procedure.code} cho "
            f"{unit.commune_name}, {unit.province_name} trong danh mục cơ quan.",
            field="applicant.residence" if unit is residence else "subject_location",
        )
    return Route(chosen[0], procedure.jurisdiction, unit)
