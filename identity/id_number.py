"""Personal identification numbers (số định danh cá nhân): 12 digits, no check digit.

Digits 1–3: province or country of birth registration (unknown prefixes are accepted: people born abroad
carry a country code); digit 4: century and sex (0/1 → 1900s, 2/3 → 2000s, 4/5 → 2100s, 6/7 → 2200s,
8/9 → 2300s; even male, odd female); digits 5–6: the last two digits of the birth year.
"""

import re

_ID = re.compile(r"[0-9]{12}")  # used with fullmatch: ASCII digits only, no trailing "\n"


def birth_year_problem(id_number: str, birth_year: int) -> str | None:
    """None when the number is well formed and agrees with the birth year, otherwise why not (Vietnamese)."""
    if not _ID.fullmatch(id_number):
        return "Số định danh cá nhân phải gồm đúng 12 chữ số."
    century = 1900 + 100 * (int(id_number[3]) // 2)
    encoded_year = century + int(id_number[4:6])
    if encoded_year != birth_year:
        return f"Số định danh cá nhân mã hóa năm sinh {encoded_year}, không khớp với năm sinh {birth_year} đã khai."
    return None
