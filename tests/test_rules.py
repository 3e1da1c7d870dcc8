"""Pure rules: UPU S10 item numbers and the birth year encoded in a personal identification number."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.postal.s10 import check_digit, s10_problem
from identity.id_number import birth_year_problem

DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
serials = st.text(alphabet=DIGITS, min_size=8, max_size=8)
service_letters = st.text(alphabet=LETTERS, min_size=2, max_size=2)

# --- S10 item numbers --------------------------------------------------------------------------------------


def test_check_digit_of_a_known_number():
    """The check digit of serial 47312482 is 9, so RR473124829VN is a valid Vietnamese S10 number."""
    assert check_digit("47312482") == 9
    assert s10_problem("RR473124829VN") is None
    assert s10_problem("EE123456785VN") is None


def test_check_digit_maps_ten_to_zero_and_eleven_to_five():
    """A weighted sum ≡ 1 (mod 11) gives check digit 0 instead of 10, and ≡ 0 (mod 11) gives 5 instead of 11."""
    assert check_digit("00000012") == 0  # weighted sum 9·1 + 7·2 = 23 ≡ 1
    assert check_digit("00000015") == 5  # weighted sum 9·1 + 7·5 = 44 ≡ 0
    assert check_digit("00000000") == 5


@pytest.mark.parametrize("serial", ["4731248", "473124821", "4731248a", "", "٤٧٣١٢٤٨٢"])
def test_check_digit_refuses_anything_but_eight_ascii_digits(serial):
    """check_digit raises ValueError unless given exactly eight ASCII digits."""
    with pytest.raises(ValueError, match="8 digits"):
        check_digit(serial)


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("RR473124828VN", "Chữ số kiểm tra"),  # wrong check digit
        ("RR473124820VN", "Chữ số kiểm tra"),
        ("RR473124829US", "mã nước 'VN'"),  # another country's number
        ("RR47312482VN", "dạng S10"),  # serial one digit short
        ("RR4731248299VN", "dạng S10"),  # one digit too many
        ("rr473124829vn", "dạng S10"),  # lower case
        ("R1473124829VN", "dạng S10"),
        ("RR 473124829VN", "dạng S10"),
        ("RR473124829VN\n", "dạng S10"),  # trailing newline
        ("RR٤٧٣١٢٤٨٢٩VN", "dạng S10"),  # non-ASCII digits
        ("", "dạng S10"),
    ],
)
def test_invalid_s10_numbers_are_refused_in_vietnamese(number, says):
    """A wrong check digit, a foreign country code or a wrong shape each give a Vietnamese reason."""
    problem = s10_problem(number)
    assert problem is not None
    assert says in problem
    assert "số hiệu bưu gửi" in problem.lower()


@given(serial=serials)
def test_check_digit_follows_the_upu_formula(serial):
    """check_digit is 11 − (Σ dᵢ·wᵢ mod 11) with weights 8,6,4,2,3,5,9,7, 10 → 0 and 11 → 5."""
    value = 11 - sum(int(d) * w for d, w in zip(serial, WEIGHTS, strict=True)) % 11
    assert check_digit(serial) == {10: 0, 11: 5}.get(value, value)


@given(letters=service_letters, serial=serials, wrong=st.sampled_from(DIGITS))
def test_only_the_computed_check_digit_validates(letters, serial, wrong):
    """For any serial the number built with its check digit is valid, and any other check digit is refused."""
    right = str(check_digit(serial))
    assert s10_problem(f"{letters}{serial}{right}VN") is None
    if wrong != right:
        assert "Chữ số kiểm tra" in (s10_problem(f"{letters}{serial}{wrong}VN") or "")


# --- Personal identification numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("id_number", "birth_year"),
    [
        ("001090123456", 1990),  # male, 1900s
        ("001190123456", 1990),  # female, 1900s
        ("001205012345", 2005),  # male, 2000s
        ("079300012345", 2000),  # female, 2000s
        ("999499000001", 2199),  # unknown prefix (born abroad) accepted; 2100s
    ],
)
def test_birth_year_agrees_with_the_id_number(id_number, birth_year):
    """The century digit (0/1 → 1900s, 2/3 → 2000s, 4/5 → 2100s) and digits 5–6 give the birth year."""
    assert birth_year_problem(id_number, birth_year) is None


@pytest.mark.parametrize(
    ("id_number", "birth_year"),
    [("001090123456", 1991), ("001090123456", 2090), ("001205012345", 1905), ("001205012345", 2006)],
)
def test_mismatched_birth_year_is_refused(id_number, birth_year):
    """A birth year other than the one encoded is refused with a Vietnamese message naming both years."""
    problem = birth_year_problem(id_number, birth_year)
    assert problem is not None
    assert "năm sinh" in problem
    encoded = (1900 + 100 * (int(id_number[3]) // 2)) + int(id_number[4:6])
    assert str(encoded) in problem and str(birth_year) in problem


@pytest.mark.parametrize(
    "id_number",
    ["00109012345", "0010901234567", "00109012345a", "", "001 090123456", "001090123456\n", "٠٠١٠٩٠١٢٣٤٥٦"],
)
def test_id_number_must_be_twelve_ascii_digits(id_number):
    """Anything but exactly twelve ASCII digits is refused as malformed."""
    assert birth_year_problem(id_number, 1990) == "Số định danh cá nhân phải gồm đúng 12 chữ số."


@given(
    prefix=st.integers(min_value=0, max_value=999),
    century=st.integers(min_value=0, max_value=9),
    year=st.integers(min_value=0, max_value=99),
    rest=st.integers(min_value=0, max_value=999_999),
    other=st.integers(min_value=1800, max_value=2500),
)
def test_only_the_encoded_birth_year_is_accepted(prefix, century, year, rest, other):
    """For any prefix, century digit and two-digit year, the encoded year is accepted and any other refused."""
    id_number = f"{prefix:03d}{century}{year:02d}{rest:06d}"
    encoded = 1900 + 100 * (century // 2) + year
    assert birth_year_problem(id_number, encoded) is None
    if other != encoded:
        assert birth_year_problem(id_number, other) is not None
