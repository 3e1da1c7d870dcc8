"""Commune-level agencies generated for every commune of 1 July 2025, so each of the 3,321 communes has
its People's Committee (UBND xã) and commune police (Công an xã) in the directory.

The identifiers follow the shape of the national electronic identifiers and are marked as demo
identifiers: the official list is not public in machine-readable form.
"""

from functools import cache

from vietnam_provinces import Province, Ward

from mapping.catalog import Agency

COMMUNE_KINDS = {"ubnd_xa": "UBND", "cong_an_xa": "Công an"}


@cache
def generated_agencies() -> list[Agency]:
    agencies = []
    for province in Province.iter_all():
        province_code = f"{int(province.code):02d}"
        for ward in Ward.iter_by_province(province.code):
            commune_code = f"{int(ward.code):05d}"
            for kind, prefix in COMMUNE_KINDS.items():
                agencies.append(
                    Agency(
                        identifier=f"{'000' if kind == 'ubnd_xa' else '001'}.{commune_code[:2]}.{commune_code[2:]}.H{province_code}",
                        name=f"{prefix} {ward.name[0].lower()}{ward.name[1:]}",
                        kind=kind,
                        level="commune",
                        province_code=province_code,
                        commune_code=commune_code,
                    )
                )
    return agencies
