"""Pure rules for identifying a citizen (issue 4): ID numbers, CMND numbers, and comparing what an applicant
declared with what the population database (Cơ sở dữ liệu quốc gia về dân cư) holds.

No I/O, no clock, no gateway imports: everything here is a function of its arguments.

Personal identification number (số định danh cá nhân): 12 ASCII digits, no check digit. Digits 1–3: the
province or country of birth registration (unknown prefixes are accepted: people born abroad carry a country
code); digit 4: century and sex (0/1 → 1900s, 2/3 → 2000s, 4/5 → 2100s, 6/7 → 2200s, 8/9 → 2300s; even male,
odd female); digits 5–6: the last two digits of the birth year; 6 random digits.

Old identity card number (CMND): 9 ASCII digits, a secondary identifier only, never instead of the 12-digit
number.

Names are compared after `fold_name` (NFC, case folded, whitespace folded, tone-mark placement on "oa",
"oe", "uy" normalised; see there); equal then → "match"; equal only once diacritics are removed as well
(`strip_diacritics`) → "partial", which an officer must confirm; otherwise "mismatch".

Messages are Vietnamese and never contain a value taken from the register.
"""

import itertools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from identity.model import CitizenQuery, CitizenRecord, Sex

NameMatch = Literal["match", "partial", "mismatch"]
Outcome = Literal["match", "partial", "mismatch"]

_ID = re.compile(r"[0-9]{12}")  # used with fullmatch: ASCII digits only, no trailing "\n"
_CMND = re.compile(r"[0-9]{9}")

ID_MALFORMED = "Số định danh cá nhân phải gồm đúng 12 chữ số."
CMND_INSTEAD_OF_ID = (
    "Số chứng minh nhân dân (CMND) 9 chữ số chỉ được dùng làm giấy tờ bổ sung, không thay cho số định danh cá nhân."
)
ID_SEX_MISMATCH = "Giới tính đã khai không khớp với số định danh cá nhân."
CMND_MALFORMED = "Số chứng minh nhân dân (CMND) phải gồm đúng 9 chữ số."

REGISTER = "Cơ sở dữ liệu quốc gia về dân cư"
NAME_MISMATCH = f"Họ và tên không khớp với {REGISTER}."
NAME_PARTIAL = "Họ tên chỉ khớp khi bỏ dấu: cán bộ tiếp nhận cần xác nhận."
BIRTH_MISMATCH = f"Ngày sinh không khớp với {REGISTER}."
BIRTH_YEAR_MISMATCH = f"Năm sinh không khớp với {REGISTER}."
BIRTH_MISSING = "Chưa khai ngày sinh hoặc năm sinh."
BIRTH_INCONSISTENT = "Ngày sinh và năm sinh đã khai mâu thuẫn nhau."
SEX_MISMATCH = f"Giới tính không khớp với {REGISTER}."
ALL_MATCH = f"Họ tên, ngày sinh và giới tính khớp với {REGISTER}."
ALL_MATCH_NO_SEX = f"Họ tên và ngày sinh khớp với {REGISTER}."
_BIRTH_MESSAGES = {
    "date": BIRTH_MISMATCH,
    "year": BIRTH_YEAR_MISMATCH,
    "none": BIRTH_MISSING,
    "conflict": BIRTH_INCONSISTENT,
}


# --- Personal identification numbers -----------------------------------------------------------------------


def is_well_formed_id_number(id_number: str) -> bool:
    """True for exactly 12 ASCII digits (not Arabic-Indic or full-width digits, no whitespace)."""
    return _ID.fullmatch(id_number) is not None


def encoded_birth_year(id_number: str) -> int:
    """The birth year a well-formed number encodes: century from digit 4, year in century from digits 5–6."""
    return 1900 + 100 * (int(id_number[3]) // 2) + int(id_number[4:6])


def encoded_sex(id_number: str) -> Sex:
    """The sex a well-formed number encodes: digit 4 even → male, odd → female."""
    return "female" if int(id_number[3]) % 2 else "male"


def id_number_problems(id_number: str, birth_year: int | None, sex: Sex | None = None) -> list[str]:
    """Why `id_number` is not acceptable for someone born in `birth_year` of `sex` (Vietnamese), [] when fine.

    A malformed number yields only the format problem(s); `birth_year` / `sex` None skip that check. The
    place prefix (digits 1–3) is never checked: unknown provinces and foreign country codes are accepted.
    """
    if not is_well_formed_id_number(id_number):
        problems = [ID_MALFORMED]
        if _CMND.fullmatch(id_number):
            problems.append(CMND_INSTEAD_OF_ID)
        return problems
    problems = []
    if birth_year is not None:
        encoded = encoded_birth_year(id_number)
        if encoded != birth_year:
            problems.append(
                f"Số định danh cá nhân mã hóa năm sinh {encoded}, không khớp với năm sinh {birth_year} đã khai."
            )
    if sex is not None and encoded_sex(id_number) != sex:
        problems.append(ID_SEX_MISMATCH)
    return problems


def cmnd_problem(number: str) -> str | None:
    """None when `number` is a well-formed old CMND number (9 ASCII digits), otherwise why not (Vietnamese).

    A CMND number is only ever a secondary identifier: callers must still require the 12-digit number."""
    if _CMND.fullmatch(number):
        return None
    if _ID.fullmatch(number):
        return "Số 12 chữ số là số định danh cá nhân, không phải số chứng minh nhân dân (CMND)."
    return CMND_MALFORMED


# --- Names -------------------------------------------------------------------------------------------------

_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")  # huyền, sắc, ngã, hỏi, nặng
# first vowel → second vowels of the nuclei whose tone placement varies ("hòa"/"hoà", "khỏe"/"khoẻ", "thủy"/"thuỷ")
_MOVABLE = {"o": "ae", "u": "y"}


def _clusters(decomposed: str) -> list[list[str]]:
    """Split an NFD string into [base, *combining marks] clusters."""
    clusters: list[list[str]] = []
    for char in decomposed:
        if unicodedata.combining(char) and clusters:
            clusters[-1].append(char)
        else:
            clusters.append([char])
    return clusters


def _new_style_tones(text: str) -> str:
    """Move a tone mark from the "o" of "oa"/"oe" or the "u" of "uy" to the following vowel (the new-style
    placement: "hòa" → "hoà", "khỏe" → "khoẻ", "thủy" → "thuỷ"). Only when both vowels are otherwise
    unmarked, so "hoặc", "tuyết", "ưa" are untouched. Input is lower case; output is NFC."""
    clusters = _clusters(unicodedata.normalize("NFD", text))
    for first, second in itertools.pairwise(clusters):
        if (
            first[0] in _MOVABLE
            and second[0] in _MOVABLE[first[0]]
            and len(first) == 2
            and first[1] in _TONE_MARKS
            and len(second) == 1
        ):
            second.append(first.pop())
    return unicodedata.normalize("NFC", "".join("".join(cluster) for cluster in clusters))


def fold_name(name: str) -> str:
    """The form in which two names are equal when they "match".

    Unicode NFC (so decomposed input equals precomposed), case folded, runs of whitespace (spaces, tabs, any
    Unicode whitespace) folded to one space and stripped, and the tone mark on "oa", "oe", "uy" moved to
    the second vowel: the old ("Hòa", "Thủy", "Khỏe") and new ("Hoà", "Thuỷ", "Khoẻ") placements are the
    same name written two accepted ways, not a different name, so "Hoà" and "Hòa" match fully."""
    folded = " ".join(unicodedata.normalize("NFC", name).casefold().split())
    return _new_style_tones(folded)


def strip_diacritics(text: str) -> str:
    """`text` without diacritics: NFD, combining marks dropped, đ/Đ → d/D (NFD does not decompose them)."""
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", bare.replace("đ", "d").replace("Đ", "D"))


def compare_names(declared: str, registered: str) -> NameMatch:
    """ "match" when equal after `fold_name`; "partial" when equal only after also removing diacritics;
    otherwise "mismatch"."""
    left, right = fold_name(declared), fold_name(registered)
    if left == right:
        return "match"
    if strip_diacritics(left) == strip_diacritics(right):
        return "partial"
    return "mismatch"


# --- Birth data --------------------------------------------------------------------------------------------


BirthDeclared = Literal["date", "year", "none", "conflict"]


def declared_birth(query: CitizenQuery) -> BirthDeclared:
    """What the query declares: a full date, a year only, nothing, or a date and a year that contradict."""
    if query.birth_date is not None:
        if query.birth_year is not None and query.birth_year != query.birth_date.year:
            return "conflict"
        return "date"
    return "none" if query.birth_year is None else "year"


def birth_matches(query: CitizenQuery, record: CitizenRecord) -> bool:
    """Full date against full date: the dates are equal. A year only on either side (the applicant knows only
    the year, or the register has only the year): the years are equal. Nothing declared, or a declared date
    and year that contradict each other: no match."""
    declared = declared_birth(query)
    registered_year = record.birth_date.year if record.birth_date is not None else record.birth_year
    if declared == "date" and query.birth_date is not None:
        if record.birth_date is not None:
            return query.birth_date == record.birth_date
        return query.birth_date.year == registered_year
    if declared == "year":
        return query.birth_year == registered_year
    return False


# --- Comparison --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    """What the applicant declared against the register's record, without any of the register's values.

    `outcome`: "mismatch" when the name, the birth data or the sex does not match; "partial" when the name
    matches only without diacritics and everything else matches (an officer confirms); otherwise "match".
    `sex` is None when no sex was declared. `birth_declared` is what the query declared (`declared_birth`),
    kept only to word the explanation."""

    outcome: Outcome
    name: NameMatch
    birth: bool
    sex: bool | None
    birth_declared: BirthDeclared = "date"

    def explanation(self) -> str:
        """Vietnamese: what did not match (or that everything did). Never quotes the register."""
        parts = []
        if self.name == "mismatch":
            parts.append(NAME_MISMATCH)
        elif self.name == "partial":
            parts.append(NAME_PARTIAL)
        if not self.birth:
            parts.append(_BIRTH_MESSAGES[self.birth_declared])
        if self.sex is False:
            parts.append(SEX_MISMATCH)
        if not parts:
            return ALL_MATCH if self.sex else ALL_MATCH_NO_SEX
        return " ".join(parts)


def compare(query: CitizenQuery, record: CitizenRecord, sex: Sex | None = None) -> Comparison:
    """Compare the declared name, birth data and (when given) sex with the register's record."""
    name = compare_names(query.full_name, record.full_name)
    birth = birth_matches(query, record)
    sex_ok = None if sex is None else sex == record.sex
    if name == "mismatch" or not birth or sex_ok is False:
        outcome: Outcome = "mismatch"
    elif name == "partial":
        outcome = "partial"
    else:
        outcome = "match"
    return Comparison(outcome=outcome, name=name, birth=birth, sex=sex_ok, birth_declared=declared_birth(query))
