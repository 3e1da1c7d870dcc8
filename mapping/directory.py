"""Commune-level agencies generated for every commune of 1 July 2025, so each of the 3,321 communes has
its People's Committee (UBND xã) and commune police (Công an xã) in the directory, and the electronic
identifier scheme both this module and `mapping/data/build_agencies.py` follow.

Identifiers have the shape of the national electronic identifiers of agencies (Decision 20/2020/QĐ-TTg,
amended by Decision 09/2025/QĐ-TTg): `V1V2V3.Z1Z2.Y1Y2.Hnn`, where `Hnn` is the level-1 code of the
province's People's Committee, `Y1Y2` a unit directly under it, `Z1Z2` and `V1V2V3` the units below. The
official list is not public in machine-readable form, so every identifier here is a demo identifier:

- provincial agencies: `000.00.<group>.Hnn`, one two-digit group per agency kind (`AGENCY_GROUPS`);
- commune agencies: the five-digit commune code split 3 + 2 into the lower places, under the group of
  their parent: `<ccc>.<cc>.00.Hnn` for the UBND xã (directly under the provincial People's Committee,
  `000.00.00.Hnn`), `<ccc>.<cc>.20.Hnn` for the Công an xã (under the provincial police,
  `000.00.20.Hnn`).

Commune codes are unique nationwide and never `00000`, so no two identifiers collide.
"""

import re
from functools import cache

from vietnam_provinces import Province, Ward

from mapping.catalog import Agency

IDENTIFIER = re.compile(r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.H[0-9]{2}$")

# Level-1 code of each province's People's Committee: the H-code that Decision 20/2020/QĐ-TTg gave the
# pre-2025 province whose name the merged province kept (Huế: H57, Decision 09/2025/QĐ-TTg).
PROVINCE_H_CODES: dict[str, str] = {
    "01": "H26",  # Hà Nội
    "04": "H14",  # Cao Bằng
    "08": "H60",  # Tuyên Quang
    "11": "H18",  # Điện Biên
    "12": "H35",  # Lai Châu
    "14": "H52",  # Sơn La
    "15": "H38",  # Lào Cai
    "19": "H55",  # Thái Nguyên
    "20": "H37",  # Lạng Sơn
    "22": "H49",  # Quảng Ninh
    "24": "H05",  # Bắc Ninh
    "25": "H44",  # Phú Thọ
    "31": "H24",  # Hải Phòng
    "33": "H31",  # Hưng Yên
    "37": "H42",  # Ninh Bình
    "38": "H56",  # Thanh Hóa
    "40": "H41",  # Nghệ An
    "42": "H27",  # Hà Tĩnh
    "44": "H50",  # Quảng Trị
    "46": "H57",  # Huế
    "48": "H17",  # Đà Nẵng
    "51": "H48",  # Quảng Ngãi
    "52": "H21",  # Gia Lai
    "56": "H32",  # Khánh Hòa
    "66": "H15",  # Đắk Lắk
    "68": "H36",  # Lâm Đồng
    "75": "H19",  # Đồng Nai
    "79": "H29",  # Hồ Chí Minh
    "80": "H53",  # Tây Ninh
    "82": "H20",  # Đồng Tháp
    "86": "H61",  # Vĩnh Long
    "91": "H01",  # An Giang
    "92": "H13",  # Cần Thơ
    "96": "H12",  # Cà Mau
}

# Level-2 group of each agency kind under the provincial People's Committee (demo numbering; the first
# three are the ones the demo has always used, e.g. 000.00.10.H26 for Sở Tư pháp thành phố Hà Nội).
AGENCY_GROUPS: dict[str, str] = {
    "ubnd_xa": "00",
    "so_tu_phap": "10",
    "cong_an_tinh": "20",
    "cong_an_xa": "20",
    "van_phong_dang_ky_dat_dai": "30",
    "bhxh_tinh": "40",
    "thue_tinh": "50",
    "so_tai_chinh": "60",
}

COMMUNE_KINDS = {"ubnd_xa": "UBND", "cong_an_xa": "Công an"}


def province_code(code: int) -> str:
    return f"{int(code):02d}"


def agency_identifier(kind: str, province: str, commune: str | None = None) -> str:
    """The demo electronic identifier of the agency of `kind` in that province (and commune)."""
    lower = f"{commune[:3]}.{commune[3:]}" if commune else "000.00"
    return f"{lower}.{AGENCY_GROUPS[kind]}.{PROVINCE_H_CODES[province]}"


@cache
def generated_agencies() -> tuple[Agency, ...]:
    """Two agencies per commune, built without validation (trusted input; the tests validate every one)."""
    agencies = []
    for ward in Ward.iter_all():
        province = province_code(ward.province_code)
        commune = f"{int(ward.code):05d}"
        name = f"{ward.name[0].lower()}{ward.name[1:]}"
        for kind, prefix in COMMUNE_KINDS.items():
            agencies.append(
                Agency.model_construct(
                    identifier=agency_identifier(kind, province, commune),
                    name=f"{prefix} {name}",
                    kind=kind,
                    level="commune",
                    province_code=province,
                    commune_code=commune,
                )
            )
    return tuple(agencies)


def province_names() -> dict[str, str]:
    """Province code → name as `vietnam-provinces` spells it (e.g. "Thành phố Hà Nội")."""
    return {province_code(p.code): p.name for p in Province.iter_all()}
