"""Errors of the mapping layer; the gateway maps them to 422 problems at its boundary."""


class MappingError(Exception):
    code = "mapping.error"

    def __init__(self, message: str, *, field: str | None = None, candidates: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.candidates = candidates or []


class UnitUnknown(MappingError):
    code = "unit.unknown"


class ProcedureUnknown(MappingError):
    code = "procedure.unknown"


class RoutingFailed(MappingError):
    code = "routing.no_agency"


class CatalogInvalid(Exception):
    """The catalog file breaks its schema; raised at load, naming the entry and field."""
