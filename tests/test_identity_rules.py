"""Pure rules of issue 4: ID numbers, CMND numbers, and comparing a declaration with the register's record."""

import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity.id_number import birth_year_problem
from identity.model import CitizenQuery, CitizenRecord
from identity.rules import (
    cmnd_problem,
    compare,
    compare_names,
    fold_name,
    id_number_problems,
    strip_diacritics,
)

# --- Helpers -----------------------------------------------------------------------------------------------


def query(full_name="Nguyễn Văn An", birth_date=date(1990, 5, 14), birth_year=None, id_number="001090123456"):
    return CitizenQuery(
        request_id="req-1",
        id_number=id_number,
        full_name=full_name,
        birth_date=birth_date,
        birth_year=birth_year,
        officer="officer-1",
        unit="000.00.01.H22",
        service_code="1.001234",
    )


def record(full_name="Nguyễn Văn An", birth_date=date(1990, 5, 14), birth_year=1990, sex="male"):
    return CitizenRecord(
        id_number="001090123456",
        full_name=full_name,
        birth_date=birth_date,
        birth_year=birth_year,
        sex=sex,
        residence_legacy_ward="00004",
        residence_address="Số 12 phố Hàng Bạc, phường Hoàn Kiếm, Hà Nội",
    )


SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLES = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Xuân", "Kim"]
GIVENS = ["An", "Bình", "Hòa", "Thủy", "Khỏe", "Dũng", "Hương", "Lan", "Tuấn", "Yến", "Đạt", "Quý", "Khoa", "Linh"]
PLAIN = ["Lan", "Linh", "Anh", "Kim", "Minh", "Thanh", "Khoa"]

names = st.builds(
    lambda parts: " ".join(parts),
    st.tuples(
        st.sampled_from(SURNAMES),
        st.lists(st.sampled_from(MIDDLES), max_size=2).map(" ".join),
        st.sampled_from(GIVENS),
    ).map(lambda t: [p for p in t if p]),
)
plain_names = st.lists(st.sampled_from(PLAIN), min_size=2, max_size=4).map(" ".join)
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))


@st.composite
def records(draw):
    birth = draw(dates)
    year_only = draw(st.booleans())
    return CitizenRecord(
        id_number=draw(st.text(alphabet="0123456789", min_size=12, max_size=12)),
        full_name=draw(names),
        birth_date=None if year_only else birth,
        birth_year=birth.year,
        sex=draw(st.sampled_from(["male", "female"])),
        residence_legacy_ward=draw(st.text(alphabet="0123456789", min_size=5, max_size=5)),
        residence_address=draw(names.map(lambda n: f"Số {birth.day} đường {n}")),
    )


@st.composite
def noisy(draw, name):
    """`name` with random letter case and extra spaces/tabs around and between words."""
    gaps = st.text(alphabet=" \t", max_size=3)
    words = ["".join(c.upper() if draw(st.booleans()) else c.lower() for c in word) for word in name.split(" ")]
    out = draw(gaps)
    for word in words:
        out += word + " " + draw(gaps)
    return out


# --- Personal identification numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("id_number", "birth_year", "sex"),
    [
        ("001090123456", 1990, "male"),  # 0: male, 1900s
        ("001190123456", 1990, "female"),  # 1: female, 1900s
        ("079205012345", 2005, "male"),  # 2: male, 2000s
        ("079300012345", 2000, "female"),  # 3: female, 2000s
        ("001401000001", 2101, "male"),  # 4: male, 2100s
        ("001599000001", 2199, "female"),  # 5: female, 2100s
    ],
)
def test_century_digit_gives_century_and_sex(id_number, birth_year, sex):
    """Digit 4 encodes century and sex (0/1 → 1900s, 2/3 → 2000s, 4/5 → 2100s; even male, odd female)."""
    assert id_number_problems(id_number, birth_year, sex) == []
    assert id_number_problems(id_number, birth_year, None) == []


@pytest.mark.parametrize("prefix", ["000", "099", "840", "704", "999"])
def test_unknown_and_foreign_prefixes_are_accepted(prefix):
    """Any three-digit place prefix, including unknown provinces and country codes, is accepted."""
    assert id_number_problems(f"{prefix}090123456", 1990, "male") == []


@pytest.mark.parametrize(
    ("id_number", "birth_year"),
    [("001090123456", 1991), ("001090123456", 2090), ("001205012345", 1905), ("001401000001", 2001)],
)
def test_wrong_birth_year_is_refused_naming_both_years(id_number, birth_year):
    """A birth year other than the encoded one is refused with one message naming both years."""
    problems = id_number_problems(id_number, birth_year, None)
    assert len(problems) == 1
    assert "năm sinh" in problems[0] and str(birth_year) in problems[0]


@pytest.mark.parametrize(("id_number", "sex"), [("001090123456", "female"), ("001190123456", "male")])
def test_wrong_sex_is_refused(id_number, sex):
    """A declared sex that disagrees with the parity of digit 4 is refused."""
    assert id_number_problems(id_number, 1990, sex) == ["Giới tính đã khai không khớp với số định danh cá nhân."]


def test_wrong_year_and_sex_are_both_reported():
    """When both the year and the sex disagree, both problems are reported."""
    assert len(id_number_problems("001090123456", 1991, "female")) == 2


@pytest.mark.parametrize(
    "id_number",
    [
        "00109012345",
        "0010901234567",
        "00109012345a",
        "",
        "001 090123456",
        "001090123456\n",
        " 001090123456",
        "٠٠١٠٩٠١٢٣٤٥٦",  # Arabic-Indic digits
        "００１０９０１２３４５６",  # full-width digits
        "߀߀߁߀߉߀߁߂߃߄߅߆",  # NKo digits
    ],
)
def test_anything_but_twelve_ascii_digits_is_malformed(id_number):
    """Anything but exactly twelve ASCII digits is malformed, whatever Unicode calls a digit."""
    problems = id_number_problems(id_number, 1990, "male")
    assert problems[0] == "Số định danh cá nhân phải gồm đúng 12 chữ số."


def test_a_cmnd_number_is_not_an_id_number():
    """A 9-digit CMND number given as the ID number is refused, saying it is only a secondary identifier."""
    problems = id_number_problems("123456789", 1990, None)
    assert problems[0] == "Số định danh cá nhân phải gồm đúng 12 chữ số."
    assert "CMND" in problems[1]


@given(
    prefix=st.integers(min_value=0, max_value=999),
    digit=st.integers(min_value=0, max_value=9),
    year=st.integers(min_value=0, max_value=99),
    rest=st.integers(min_value=0, max_value=999_999),
)
def test_every_well_formed_number_agrees_with_what_it_encodes(prefix, digit, year, rest):
    """For any prefix, digit 4 and year digits, the encoded year and sex are accepted and the other sex is not."""
    id_number = f"{prefix:03d}{digit}{year:02d}{rest:06d}"
    encoded_year = 1900 + 100 * (digit // 2) + year
    sex, other = ("female", "male") if digit % 2 else ("male", "female")
    assert id_number_problems(id_number, encoded_year, sex) == []
    assert id_number_problems(id_number, encoded_year, other) != []
    assert birth_year_problem(id_number, encoded_year) is None


def test_birth_year_problem_keeps_its_contract():
    """identity.id_number.birth_year_problem still returns None or the first problem, as intake expects."""
    assert birth_year_problem("001090123456", 1990) is None
    assert birth_year_problem("00109012345", 1990) == "Số định danh cá nhân phải gồm đúng 12 chữ số."
    assert "1990" in (birth_year_problem("001090123456", 1991) or "")


# --- CMND --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["123456789", "000000000", "025123456"])
def test_nine_ascii_digits_are_a_cmnd_number(number):
    """Exactly nine ASCII digits are a well-formed CMND number."""
    assert cmnd_problem(number) is None


@pytest.mark.parametrize(
    "number",
    ["12345678", "1234567890", "001090123456", "12345678a", "", "123456789\n", "١٢٣٤٥٦٧٨٩", "１２３４５６７８９"],
)
def test_anything_else_is_not_a_cmnd_number(number):
    """Anything but exactly nine ASCII digits, a 12-digit ID number included, is refused as a CMND number."""
    problem = cmnd_problem(number)
    assert problem is not None and "CMND" in problem


# --- Names -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "registered", "expected"),
    [
        ("NGUYỄN VĂN AN", "Nguyễn Văn An", "match"),
        ("  nguyễn\tvăn   an ", "Nguyễn Văn An", "match"),
        (unicodedata.normalize("NFD", "Nguyễn Văn An"), "Nguyễn Văn An", "match"),
        ("Nguyễn Văn An", unicodedata.normalize("NFD", "Nguyễn Văn An"), "match"),
        ("nguyen  van an", "Nguyễn Văn An", "partial"),
        ("NGUYEN VAN AN", "Nguyễn Văn An", "partial"),
        ("Dang Van Dat", "Đặng Văn Đạt", "partial"),
        ("Nguyễn Văn Án", "Nguyễn Văn An", "partial"),
        ("Nguyễn Văn Bình", "Nguyễn Văn An", "mismatch"),
        ("Nguyễn An", "Nguyễn Văn An", "mismatch"),
        ("NguyễnVăn An", "Nguyễn Văn An", "mismatch"),
    ],
)
def test_name_comparison(declared, registered, expected):
    """Case, whitespace and NFD/NFC differences match; diacritics-only differences are partial; others mismatch."""
    assert compare_names(declared, registered) == expected


def test_dang_without_diacritics_is_partial():
    """ "Đặng" against "Dang" is partial: đ counts as d with a diacritic although NFD does not decompose it."""
    assert compare_names("Dang", "Đặng") == "partial"
    assert compare_names("Đặng", "DANG") == "partial"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Hòa", "Hoà"),
        ("Lê Thị Thủy", "Lê Thị Thuỷ"),
        ("Khỏe", "Khoẻ"),
        ("Hoàng Văn Thụy", "HOÀNG VĂN THUỴ"),
        ("Qúy", "Quý"),
    ],
)
def test_old_and_new_tone_placement_match(old, new):
    """Tone marks on the first or second vowel of "oa", "oe", "uy" are one name written two ways: a full match."""
    assert compare_names(old, new) == "match"
    assert compare_names(new, old) == "match"


@pytest.mark.parametrize(
    ("declared", "registered"), [("Hòa", "Hóa"), ("Hoà", "Hoa"), ("Thủy", "Thúy"), ("Hoặc", "Hoác")]
)
def test_a_different_tone_is_not_a_placement_variant(declared, registered):
    """Normalising tone placement never equates different tones or tone with no tone: those are partial."""
    assert compare_names(declared, registered) == "partial"


def test_tone_normalisation_leaves_other_nuclei_alone():
    """Nuclei other than bare "oa", "oe", "uy" (e.g. "tuyết", "hoặc", "người") keep their marks where they are."""
    for word in ["tuyết", "hoặc", "người", "hoàng", "huỳnh", "khuyến"]:
        assert fold_name(word) == word


# --- Birth data and the whole comparison -------------------------------------------------------------------


def test_everything_matching_is_a_match():
    """Same name (up to case and spacing), same full birth date and the same sex give a match."""
    result = compare(query(full_name="NGUYỄN  VĂN AN"), record(), sex="male")
    assert (result.outcome, result.name, result.birth, result.sex) == ("match", "match", True, True)


def test_name_without_diacritics_is_partial_overall():
    """A name that matches only without diacritics, with everything else matching, is a partial match."""
    result = compare(query(full_name="nguyen  van an"), record(), sex="male")
    assert result.outcome == "partial"
    assert result.explanation() == "Họ tên chỉ khớp khi bỏ dấu: cán bộ tiếp nhận cần xác nhận."


def test_different_name_is_a_mismatch():
    """A different name is a mismatch, explained as a name mismatch."""
    result = compare(query(full_name="Trần Thị Bình"), record())
    assert (result.outcome, result.name) == ("mismatch", "mismatch")
    assert "Họ và tên không khớp với Cơ sở dữ liệu quốc gia về dân cư" in result.explanation()


def test_full_dates_must_be_equal():
    """Full date against full date: a different day in the same year is a mismatch explained as the birth date."""
    result = compare(query(birth_date=date(1990, 5, 15)), record())
    assert (result.outcome, result.birth) == ("mismatch", False)
    assert result.explanation().startswith("Ngày sinh không khớp")


def test_year_only_register_against_full_date_query():
    """A register holding only the year matches a full-date query of that year, and no other year."""
    assert compare(query(birth_date=date(1990, 5, 14)), record(birth_date=None, birth_year=1990)).outcome == "match"
    assert compare(query(birth_date=date(1991, 5, 14)), record(birth_date=None, birth_year=1990)).outcome == "mismatch"


def test_year_only_query_against_full_date_register():
    """A query declaring only the year matches a register's full date in that year, and no other year."""
    assert compare(query(birth_date=None, birth_year=1990), record()).outcome == "match"
    result = compare(query(birth_date=None, birth_year=1989), record())
    assert result.outcome == "mismatch"
    assert result.explanation().startswith("Năm sinh không khớp")


def test_year_only_on_both_sides():
    """A year-only query against a year-only register compares the years."""
    assert compare(query(birth_date=None, birth_year=1990), record(birth_date=None)).birth is True
    assert compare(query(birth_date=None, birth_year=1991), record(birth_date=None)).birth is False


def test_no_birth_data_or_contradicting_birth_data_never_matches():
    """A query with no birth data, or a date and a year that contradict each other, is a mismatch."""
    assert compare(query(birth_date=None, birth_year=None), record()).outcome == "mismatch"
    assert compare(query(birth_date=date(1990, 5, 14), birth_year=1991), record()).outcome == "mismatch"
    assert compare(query(birth_date=date(1990, 5, 14), birth_year=1990), record()).outcome == "match"


def test_sex_is_compared_only_when_given():
    """Sex is ignored when not declared (sex None) and a mismatch when declared differently."""
    assert compare(query(), record(sex="female")).sex is None
    result = compare(query(), record(sex="female"), sex="male")
    assert (result.outcome, result.sex) == ("mismatch", False)
    assert "Giới tính không khớp" in result.explanation()


def test_a_partial_name_with_another_mismatch_is_a_mismatch():
    """A partial name does not soften another mismatch: the outcome is mismatch and both are explained."""
    result = compare(query(full_name="Nguyen Van An", birth_date=date(1991, 1, 1)), record())
    assert (result.outcome, result.name) == ("mismatch", "partial")
    assert "bỏ dấu" in result.explanation() and "Ngày sinh" in result.explanation()


def test_comparison_is_frozen():
    """A Comparison cannot be changed after it is made."""
    result = compare(query(), record())
    with pytest.raises(AttributeError):
        result.outcome = "mismatch"  # type: ignore[misc]


# --- Properties --------------------------------------------------------------------------------------------


@given(data=st.data(), declared=names, registered=names)
def test_case_and_whitespace_noise_never_changes_the_outcome(data, declared, registered):
    """Random letter case and extra spaces/tabs in the query name never change the outcome."""
    clean = compare(query(full_name=declared), record(full_name=registered))
    noised = compare(query(full_name=data.draw(noisy(declared))), record(full_name=registered))
    assert noised == clean


@given(name=st.one_of(names, plain_names))
def test_removing_all_diacritics_gives_partial(name):
    """A name with its diacritics removed is partial against the original, or a match if it had none."""
    bare = strip_diacritics(name)
    expected = "match" if bare == name else "partial"
    assert compare_names(bare, name) == expected
    assert compare(query(full_name=bare), record(full_name=name)).outcome == expected


@given(name=names)
def test_nfd_input_matches_nfc(name):
    """A name typed in decomposed form (NFD) fully matches its precomposed form (NFC)."""
    assert compare_names(unicodedata.normalize("NFD", name), unicodedata.normalize("NFC", name)) == "match"


@given(
    rec=records(),
    declared=st.one_of(names, plain_names),
    birth=dates,
    year_only=st.booleans(),
    sex=st.sampled_from([None, "male", "female"]),
)
def test_explanation_never_reveals_the_register(rec, declared, birth, year_only, sex):
    """The explanation never contains the register's name, birth date or year, sex or address, in any form."""
    q = query(full_name=declared, birth_date=None if year_only else birth, birth_year=birth.year if year_only else None)
    text = compare(q, rec, sex=sex).explanation()
    assert not any(c.isdigit() for c in text)  # no date or year in any format, no ward code
    folded = text.casefold()
    for form in {rec.full_name, fold_name(rec.full_name), strip_diacritics(fold_name(rec.full_name))}:
        assert form.casefold() not in folded
    assert (rec.residence_address or "").casefold() not in folded
    assert "nam" not in folded.split() and "nữ" not in folded.split()  # the register's sex, in Vietnamese
    assert rec.sex not in folded
