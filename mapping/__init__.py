"""Administrative units, procedure catalog, agency directory, routing and the working-time calendar.

Pure functions over tables loaded once at start-up; nothing here does I/O after loading, and nothing
here imports `gateway`.
"""

from mapping.calendar import WorkingCalendar
from mapping.catalog import Agency, Catalog, Procedure, check_catalog, load_catalog
from mapping.errors import (
    CatalogInvalid,
    IntakeOutOfScope,
    MappingError,
    NoCompetentAgency,
    ProcedureNotPostal,
    ProcedureUnknown,
    UnitAmbiguous,
    UnitUnknown,
)
from mapping.routing import Decision, IntakePoint, RoutingRequest, UnitInput, decide
from mapping.units import ResolvedUnit, resolve_unit

__all__ = [
    "Agency",
    "Catalog",
    "CatalogInvalid",
    "Decision",
    "IntakeOutOfScope",
    "IntakePoint",
    "MappingError",
    "NoCompetentAgency",
    "Procedure",
    "ProcedureNotPostal",
    "ProcedureUnknown",
    "ResolvedUnit",
    "RoutingRequest",
    "UnitAmbiguous",
    "UnitInput",
    "UnitUnknown",
    "WorkingCalendar",
    "check_catalog",
    "decide",
    "load_catalog",
    "resolve_unit",
]
