"""Personal identification numbers (số định danh cá nhân): 12 digits, no check digit.

Digits 1–3: province or country of birth registration (unknown prefixes are accepted: people born abroad
carry a country code); digit 4: century and sex (0/1 → 1900s, 2/3 → 2000s, 4/5 → 2100s, 6/7 → 2200s,
8/9 → 2300s; even male, odd female); digits 5–6: the last two digits of the birth year.

The rules themselves live in identity.rules; this module keeps the narrower entry point intake uses.
"""

from identity.rules import id_number_problems


def birth_year_problem(id_number: str, birth_year: int) -> str | None:
    """None when the number is well formed and agrees with the birth year, otherwise why not (Vietnamese)."""
    problems = id_number_problems(id_number, birth_year)
    return problems[0] if problems else None
