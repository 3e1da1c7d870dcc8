"""Administrative units of 1 July 2025 (34 provinces, 3,321 communes) and the pre-2025 wards they replaced,
from `vietnam-provinces`.

A unit code always comes with its code system and is never reinterpreted across systems: some codes exist
in both with other names (legacy `00025` was Phường Ngọc Khánh, 2025 `00025` is Phường Giảng Võ), so a
`2025` code is looked up only in the 2025 commune table and a `legacy` code only in the legacy tables and
the official old→new conversion table (Decision 19/2025/QĐ-TTg), never the other way round.

Both indexes are built once, on first use, from the package's data; a lookup is then one dict access.
"""

import re
from dataclasses import asdict, dataclass, replace
from functools import cache
from typing import Any, Literal

from mapping.errors import UnitAmbiguous, UnitUnknown

CodeSystem = Literal["2025", "legacy"]
_FIVE_DIGITS = re.compile(r"[0-9]{5}")  # ASCII digits only: int() would also accept '٠٠٠٠٤'


@dataclass(frozen=True, slots=True)
class ResolvedUnit:
    """A unit as given (code and code system) and the 2025 commune and province it resolved to."""

    commune_code: str
    commune_name: str
    province_code: str
    province_name: str
    given_code: str = ""  # what the request said, in its own system
    given_system: CodeSystem = "2025"
    legacy_name: str | None = None  # full name of the pre-2025 ward given; None for a 2025 code

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def candidate(self) -> dict[str, str]:
        """The commune as offered to choose from when a legacy ward became several communes."""
        return {
            "code": self.commune_code,
            "name": self.commune_name,
            "province_code": self.province_code,
            "province_name": self.province_name,
        }


@dataclass(frozen=True, slots=True)
class _LegacyWard:
    name: str  # full name: ward, district, province
    became: tuple[ResolvedUnit, ...]  # given_* and legacy_name filled in; empty: not in the conversion table


@cache
def _communes() -> dict[str, ResolvedUnit]:
    """Every 2025 commune by its 5-digit code, resolved as if given in the 2025 system."""
    from vietnam_provinces import Province, Ward

    provinces = {province.code: province for province in Province.iter_all()}
    units = {}
    for ward in Ward.iter_all():
        code = f"{int(ward.code):05d}"
        province = provinces[ward.province_code]
        units[code] = ResolvedUnit(code, ward.name, f"{int(province.code):02d}", province.name, code, "2025")
    return units


@cache
def _legacy_wards() -> dict[str, _LegacyWard]:
    """Every pre-2025 ward code of the legacy tables or the conversion table, with what it became."""
    from vietnam_provinces._ward_conversion_2025 import OLD_TO_NEW
    from vietnam_provinces.legacy._lookup import DISTRICT_MAPPING, PROVINCE_MAPPING, WARD_MAPPING

    districts = {int(code): district.name for code, district in DISTRICT_MAPPING.items()}
    provinces = {int(code): province.name for code, province in PROVINCE_MAPPING.items()}

    def full_name(ward: str, district_code: int, province_code: int) -> str:
        parts = (ward, districts.get(district_code), provinces.get(province_code))
        return ", ".join(part for part in parts if part)

    names = {
        int(code): full_name(ward.name, int(ward.district_code), int(ward.province_code))
        for code, ward in WARD_MAPPING.items()
    }
    communes = _communes()
    index = {}
    for old_code, entry in OLD_TO_NEW.items():
        given = f"{old_code:05d}"
        old = entry.old_ward
        # A few codes of the official table are missing from the package's legacy ward list (wards created
        # shortly before 2025): name them by their code, district and province.
        name = names.pop(old_code, None) or full_name(f"Xã, phường mã {given}", old.district_code, old.province_code)
        targets = sorted({f"{new.code:05d}" for new in entry.new_wards} & communes.keys())
        became = tuple(
            replace(communes[target], given_code=given, given_system="legacy", legacy_name=name) for target in targets
        )
        index[given] = _LegacyWard(name, became)
    for old_code, name in names.items():  # legacy wards the conversion table does not carry
        index[f"{old_code:05d}"] = _LegacyWard(name, ())
    return index


def _from_2025(code: str, new_commune_code: str | None, field: str) -> ResolvedUnit:
    unit = _communes().get(code)
    if unit is None:
        if not _FIVE_DIGITS.fullmatch(code):
            raise UnitUnknown(
                f"Mã xã '{code}' không hợp lệ: mã xã, phường, đặc khu (hệ mã 2025) gồm 5 chữ số.", field=field
            )
        raise UnitUnknown(f"Không có xã, phường, đặc khu nào (hệ mã 2025) mang mã '{code}'.", field=field)
    if new_commune_code is not None and new_commune_code != code:
        raise UnitUnknown(
            f"Mã xã mới '{new_commune_code}' không khớp với mã xã '{code}' đã khai theo hệ mã 2025.", field=field
        )
    return unit


def _listing(units: tuple[ResolvedUnit, ...]) -> str:
    return "; ".join(f"{unit.commune_name}, {unit.province_name} (mã {unit.commune_code})" for unit in units)


def _from_legacy(code: str, new_commune_code: str | None, field: str) -> ResolvedUnit:
    ward = _legacy_wards().get(code)
    if ward is None:
        if not _FIVE_DIGITS.fullmatch(code):
            raise UnitUnknown(
                f"Mã xã cũ '{code}' không hợp lệ: mã xã, phường, thị trấn trước 1/7/2025 gồm 5 chữ số "
                "(không nhận mã huyện, mã tỉnh cũ).",
                field=field,
            )
        raise UnitUnknown(f"Không có xã, phường, thị trấn nào trước 1/7/2025 mang mã '{code}'.", field=field)
    if not ward.became:
        raise UnitUnknown(
            f"{ward.name} (mã cũ {code}) không có trong bảng chuyển đổi đơn vị hành chính chính thức: "
            "vui lòng khai mã xã, phường mới (hệ mã 2025).",
            field=field,
        )
    if new_commune_code is None and len(ward.became) == 1:
        return ward.became[0]
    for unit in ward.became:
        if unit.commune_code == new_commune_code:
            return unit
    candidates = [unit.candidate() for unit in ward.became]
    if len(ward.became) == 1:
        raise UnitUnknown(
            f"{ward.name} (mã cũ {code}) nay thuộc {_listing(ward.became)}, không phải xã, phường mới "
            f"'{new_commune_code}'.",
            field=field,
            candidates=candidates,
        )
    if new_commune_code is None:
        raise UnitAmbiguous(
            f"{ward.name} (mã cũ {code}) đã được sắp xếp vào nhiều xã, phường mới: {_listing(ward.became)}. "
            "Vui lòng khai thêm xã, phường mới nơi cư trú (new_commune_code).",
            field=field,
            candidates=candidates,
        )
    raise UnitAmbiguous(
        f"Xã, phường mới '{new_commune_code}' không phải là một trong các đơn vị mà {ward.name} (mã cũ {code}) "
        f"đã được sắp xếp vào: {_listing(ward.became)}.",
        field=field,
        candidates=candidates,
    )


def resolve_unit(
    code: str, system: CodeSystem = "2025", *, new_commune_code: str | None = None, field: str = "unit_code"
) -> ResolvedUnit:
    """Resolve a unit code of the given code system to its 2025 commune, or raise `UnitUnknown` /
    `UnitAmbiguous` (with `field` set), and nothing else.

    `2025`: a 5-digit commune code (ASCII digits) of the 2025 table. `new_commune_code`, if given, must equal
    the code, else `UnitUnknown`.

    `legacy`: a 5-digit pre-2025 ward code (xã, phường, thị trấn), looked up in the official old→new
    conversion table; legacy district and province codes are not accepted (`UnitUnknown`), since a district
    or province maps to many communes. A ward that became one commune resolves to it. A ward split over
    several communes raises `UnitAmbiguous` listing them all as candidates, unless `new_commune_code` names
    one of them, which it then resolves to; naming any other commune is still `UnitAmbiguous`. For a ward
    that became one commune, a `new_commune_code` naming another one is `UnitUnknown` (with that commune as
    the only candidate). A legacy ward the conversion table does not carry is `UnitUnknown`.

    The result records what was given (`given_code`, `given_system`, and for a legacy ward its full
    `legacy_name`) next to the commune and province it resolved to.
    """
    if system == "2025":
        return _from_2025(code, new_commune_code, field)
    if system == "legacy":
        return _from_legacy(code, new_commune_code, field)
    raise UnitUnknown(f"Hệ mã đơn vị hành chính '{system}' không được hỗ trợ (chỉ '2025' hoặc 'legacy').", field=field)


def load_tables() -> None:
    """Build the unit tables now (about half a second) rather than on the first request that needs them."""
    _communes()
    _legacy_wards()
