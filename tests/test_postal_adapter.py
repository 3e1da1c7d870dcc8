"""Pure parts of the VNPost adapter: S10 vectors, the status table and its fold, build/parse of orders and
tracking events against the vendor samples, and callback signatures."""

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.postal import messages, signing, status
from adapters.postal.errors import BadSignature, MalformedAnswer, PostalRejected, StaleCallback, UnsignedCallback
from adapters.postal.s10 import check_digit, s10_problem
from adapters.postal.settings import PostalConfig
from adapters.postal.status import FINAL, ItemEvent, Unified, current

VENDOR = Path(__file__).resolve().parent.parent / "adapters" / "postal" / "vendor"
CONFIG = PostalConfig(
    url="http://127.0.0.1:1", customer_code="MOTCUA-HN", username="u", password="p", callback_secret=b"s" * 32
)


def _sample(name: str):
    return json.loads((VENDOR / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("serial", "digit"),
    [("12345678", 5), ("47312482", 9), ("10000014", 0), ("10000002", 5)],
    ids=["known", "known-2", "ten-becomes-0", "eleven-becomes-5"],
)
def test_s10_check_digit_vectors(serial, digit):
    assert check_digit(serial) == digit
    assert s10_problem(f"EE{serial}{digit}VN") is None
    assert s10_problem(f"EE{serial}{(digit + 1) % 10}VN") is not None


def test_every_vnpost_code_has_a_unified_status_and_unknown_codes_never_close_an_item():
    assert set(status.CODES) == set(range(0, 23)) | set(range(101, 112))
    assert {status.unified(code) for code in status.CODES} == set(Unified)
    assert status.unified(57) is Unified.IN_TRANSIT and status.unified(57) not in FINAL
    assert all(label for label in status.LABELS.values()) and set(status.LABELS) == set(Unified)


def _at(minutes: int) -> datetime:
    return datetime(2026, 11, 22, 8, 0, tzinfo=UTC) + timedelta(minutes=minutes)


def test_failed_then_delivered_and_returned_to_sender():
    assert current([ItemEvent(_at(0), 1), ItemEvent(_at(5), 15), ItemEvent(_at(9), 14)]) is Unified.DELIVERED
    returned = [ItemEvent(_at(0), 1), ItemEvent(_at(5), 15), ItemEvent(_at(7), 16), ItemEvent(_at(9), 19)]
    assert current(returned) is Unified.RETURNED_TO_SENDER


def test_a_late_in_transit_never_undoes_delivered_and_cod_paid_is_not_a_delivery_step():
    assert current([ItemEvent(_at(9), 14), ItemEvent(_at(20), 10)]) is Unified.DELIVERED
    assert current([ItemEvent(_at(9), 14), ItemEvent(_at(10), 21)]) is Unified.DELIVERED
    assert current([]) is None


@given(st.permutations([(0, 1), (1, 101), (2, 10), (3, 11), (4, 12), (5, 15), (6, 12), (7, 14), (8, 21)]))
def test_arrival_order_does_not_matter(arrival):
    assert current(ItemEvent(_at(minute), code) for minute, code in arrival) is Unified.DELIVERED


def test_order_request_matches_the_vendor_sample():
    receiver = messages.Party("Nguyễn Văn An", "0912345678", "12 phố Đội Cấn, Phường Ba Đình, Thành phố Hà Nội", "01")
    sender = messages.Party(
        "Sở Tư pháp thành phố Hà Nội", "02438253467", "1B Trần Phú, Phường Ba Đình, Thành phố Hà Nội", "01"
    )
    order = messages.Order(
        order_number="000.00.10.H26-261121-0001",
        sender=sender,
        receiver=receiver,
        description="Kết quả hồ sơ 000.00.10.H26-261121-0001: Phiếu lý lịch tư pháp số 1",
    )
    assert messages.order_request(order, CONFIG, service="delivery") == _sample("order-request-delivery.json")
    pooled = dataclasses.replace(order, item_code="EE123456785VN", cod_amount=200_000)
    with_pool_number = messages.order_request(pooled, CONFIG, service="pickup")
    assert with_pool_number["ServiceName"] == "BCCI_THU_GOM"
    assert (with_pool_number["ItemCode"], with_pool_number["CODAmount"]) == ("EE123456785VN", 200_000)


def test_order_answers_parse():
    accepted = messages.parse_order_response(_sample("order-answer-accepted.json"), "000.00.10.H26-261121-0001")
    assert accepted.item_code == "EE123456785VN"
    with pytest.raises(PostalRejected, match="Địa chỉ người nhận không hợp lệ"):
        messages.parse_order_response(_sample("order-answer-rejected.json"), "000.00.10.H26-261121-0001")
    for broken in ([], {"Status": 100}, {"Status": "100", "ItemCode": "EE123456784VN"}):
        with pytest.raises(MalformedAnswer):
            messages.parse_order_response(broken, "x")
    with pytest.raises(MalformedAnswer, match="another order"):
        messages.parse_order_response(_sample("order-answer-accepted.json"), "000.00.10.H26-261121-0002")


@pytest.mark.parametrize(
    ("name", "unified", "cod"),
    [
        ("callback-delivered.json", "delivered", None),
        ("callback-failed.json", "delivery_failed", None),
        ("callback-cod-paid.json", "cod_paid", 200_000),
    ],
)
def test_tracking_events_parse_and_round_trip(name, unified, cod):
    event = messages.parse_tracking_event(_sample(name))
    assert (event.status, event.cod_amount, event.item_code) == (unified, cod, "EE123456785VN")
    assert event.occurred_at.utcoffset() == timedelta(hours=7)
    assert messages.parse_tracking_event(messages.tracking_event_body(event)) == event


@pytest.mark.parametrize(
    "broken",
    [
        {"ItemCode": "EE123456784VN", "Status": 14, "TraceDate": "23/11/2026 10:15:00"},
        {"ItemCode": "EE123456785VN", "Status": "giao", "TraceDate": "23/11/2026 10:15:00"},
        {"ItemCode": "EE123456785VN", "Status": 14, "TraceDate": "2026-11-23T10:15:00"},
        {"ItemCode": "EE123456785VN", "Status": 21, "TraceDate": "23/11/2026 10:15:00", "CODAmount": -1},
        {"ItemCode": "EE123456785VN", "Status": True, "TraceDate": "23/11/2026 10:15:00"},
    ],
    ids=["check-digit", "status-text", "iso-time", "negative-cod", "boolean-status"],
)
def test_malformed_tracking_events_are_refused(broken):
    with pytest.raises(MalformedAnswer):
        messages.parse_tracking_event(broken)


def test_callback_signatures():
    body, now = b'{"ItemCode": "EE123456785VN"}', 1_800_000_000
    headers = {
        signing.TIMESTAMP_HEADER: str(now),
        signing.SIGNATURE_HEADER: signing.sign(CONFIG.callback_secret, now, body),
    }
    signing.verify(CONFIG.callback_secret, headers, body, now + 10, 300)
    with pytest.raises(BadSignature):
        signing.verify(CONFIG.callback_secret, headers, body + b" ", now, 300)
    with pytest.raises(BadSignature):
        signing.verify(b"other" * 8, headers, body, now, 300)
    with pytest.raises(StaleCallback):
        signing.verify(CONFIG.callback_secret, headers, body, now + 301, 300)
    with pytest.raises(UnsignedCallback):
        signing.verify(CONFIG.callback_secret, {signing.TIMESTAMP_HEADER: str(now)}, body, now, 300)
    moved = {**headers, signing.TIMESTAMP_HEADER: str(now + 100)}  # a fresh timestamp on an old signature
    with pytest.raises(BadSignature):
        signing.verify(CONFIG.callback_secret, moved, body, now + 100, 300)
