"""Administrative units of 1 July 2025 (34 provinces, 3,321 communes), from `vietnam-provinces`.

A unit code always comes with its code system, and is never reinterpreted across systems (some legacy
codes were reused with other names).
"""

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from vietnam_provinces import Province, Ward

from mapping.errors import UnitUnknown

CodeSystem = Literal["2025", "legacy"]
_COMMUNE_CODE = re.compile(r"[0-9]{5}")


@dataclass(frozen=True, slots=True)
class ResolvedUnit:
    commune_code: str
    commune_name: str
    province_code: str
    province_name: str
    given_code: str = ""  # what the request said, in its own system
    given_system: CodeSystem = "2025"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _commune(code: str, field: str) -> ResolvedUnit:
    if not _COMMUNE_CODE.fullmatch(code):
        raise UnitUnknown(f"Mã xã '{code}' không hợp lệ: mã xã gồm 5 chữ số.", field=field)
    try:
        ward = Ward.from_code(int(code))
    except ValueError as exc:
        raise UnitUnknown(f"Không có xã, phường, đặc khu nào mang mã '{code}'.", field=field) from exc
    province = Province.from_code(ward.province_code)
    return ResolvedUnit(
        commune_code=f"{int(ward.code):05d}",
        commune_name=ward.name,
        province_code=f"{int(province.code):02d}",
        province_name=province.name,
        given_code=code,
    )


def resolve_unit(
    code: str, system: CodeSystem = "2025", *, new_commune_code: str | None = None, field: str = "unit_code"
) -> ResolvedUnit:
    """Resolve a commune code of the given system, or raise `UnitUnknown` / `UnitAmbiguous`."""
    if system != "2025":
        raise UnitUnknown(f"Hệ mã đơn vị hành chính '{system}' chưa được hỗ trợ.", field=field)
    return _commune(code, field)
