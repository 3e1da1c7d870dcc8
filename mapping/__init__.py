"""Administrative units, procedure catalog, agency directory, routing and the working-time calendar.

Pure functions over tables loaded once at start-up; nothing here does I/O after loading, and nothing
here imports `gateway`.
"""

from mapping.calendar import WorkingCalendar
from mapping.catalog import Agency, Catalog, Procedure, load_catalog
from mapping.errors import MappingError, ProcedureUnknown, RoutingFailed, UnitUnknown
from mapping.routing import Route, route
from mapping.units import ResolvedUnit, resolve_unit

__all__ = [
    "Agency",
    "Catalog",
    "MappingError",
    "Procedure",
    "ProcedureUnknown",
    "ResolvedUnit",
    "Route",
    "RoutingFailed",
    "UnitUnknown",
    "WorkingCalendar",
    "load_catalog",
    "resolve_unit",
    "route",
]
