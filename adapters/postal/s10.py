"""UPU S10 item numbers: two letters, an 8-digit serial, a check digit, and the country code `VN`."""

import re

_S10 = re.compile(r"([A-Z]{2})([0-9]{8})([0-9])([A-Z]{2})")  # used with fullmatch: ASCII only, no "\n"
_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def check_digit(serial: str) -> int:
    """The S10 check digit of an 8-digit serial: 11 − (Σ dᵢ·wᵢ mod 11), with 10 → 0 and 11 → 5."""
    if not (len(serial) == 8 and serial.isascii() and serial.isdigit()):
        raise ValueError("serial must be 8 digits")
    value = 11 - sum(int(d) * w for d, w in zip(serial, _WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(value, value)


def s10_problem(item_number: str) -> str | None:
    """None when `item_number` is a valid Vietnamese S10 number, otherwise why not (Vietnamese)."""
    match = _S10.fullmatch(item_number)
    if not match:
        return "Số hiệu bưu gửi phải có dạng S10: 2 chữ cái, 8 chữ số, 1 chữ số kiểm tra và 'VN' (ví dụ EE123456785VN)."
    _, serial, digit, country = match.groups()
    if country != "VN":
        return "Số hiệu bưu gửi phải kết thúc bằng mã nước 'VN'."
    if int(digit) != check_digit(serial):
        return "Chữ số kiểm tra của số hiệu bưu gửi không đúng."
    return None
