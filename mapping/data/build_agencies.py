"""Write `catalog/agencies.jsonl`: the provincial agencies the catalog needs, for all 34 provinces.

Run `python -m mapping.data.build_agencies` after changing the kinds or names below; the output is
deterministic (provinces by code, kinds by group), so the file only changes when this script does. The
catalog loader reads only the JSON Lines file. Commune agencies are not listed: `mapping/directory.py`
generates them at load.
"""

import argparse
import json
import sys
from pathlib import Path

from mapping.catalog import AGENCIES_FILE, CATALOG_DIR
from mapping.directory import AGENCY_GROUPS, agency_identifier, province_names

# Kind → name pattern; `{place}` is "tỉnh Cao Bằng", "thành phố Hà Nội", "Thành phố Hồ Chí Minh".
PROVINCIAL_KINDS: dict[str, str] = {
    "so_tu_phap": "Sở Tư pháp {place}",
    "cong_an_tinh": "Công an {place}",
    "van_phong_dang_ky_dat_dai": "Văn phòng Đăng ký đất đai {place}",
    "bhxh_tinh": "Bảo hiểm xã hội {place}",
    "thue_tinh": "Thuế {place}",
    "so_tai_chinh": "Sở Tài chính {place}",
}

HEADER = (
    "# Provincial agencies, one per line, written by `python -m mapping.data.build_agencies` (do not edit by\n"
    "# hand). Identifiers are demo identifiers in the national format (see mapping/data/README.md); commune\n"
    "# agencies are generated at load by mapping/directory.py.\n"
)


def place(province_name: str) -> str:
    """The province as the middle of an agency name: "thành phố Hà Nội", "tỉnh Cao Bằng"; Hồ Chí Minh keeps
    its capital, as it is always written."""
    if province_name == "Thành phố Hồ Chí Minh":
        return province_name
    return province_name[0].lower() + province_name[1:]


def entries() -> list[dict[str, object]]:
    rows = []
    for code, name in sorted(province_names().items()):
        for kind in sorted(PROVINCIAL_KINDS, key=lambda k: AGENCY_GROUPS[k]):
            rows.append(
                {
                    "identifier": agency_identifier(kind, code),
                    "name": PROVINCIAL_KINDS[kind].format(place=place(name)),
                    "kind": kind,
                    "level": "province",
                    "province_code": code,
                    "delivery": "pull",
                    "demo_identifier": True,
                }
            )
    return rows


def render() -> str:
    return HEADER + "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in entries())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mapping.data.build_agencies", description=__doc__)
    parser.add_argument("--output", type=Path, default=CATALOG_DIR / AGENCIES_FILE, help="file to write")
    args = parser.parse_args(argv)
    text = render()
    args.output.write_text(text, encoding="utf-8")
    print(f"{args.output}: {text.count(chr(10)) - HEADER.count(chr(10))} agencies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
