"""Logging: personal numbers masked everywhere, and one canonical JSON line per request with its request id."""

import json
import logging
from typing import Any

import pytest
import structlog

from gateway.logging import configure_logging, mask_personal_numbers, mask_text
from tests.conftest import TEST_LOGGING
from tests.samples import postal_dossier


def _masked(event: dict[str, Any]) -> dict[str, Any]:
    return mask_personal_numbers(None, "info", event)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("001090123456", "*********456"),  # 12-digit personal ID number
        ("012345678", "******678"),  # 9-digit CMND number
        ("0912345678", "*******678"),
        ("+84912345678", "********678"),
        ("091 234 5678", "*******678"),
        ("091.234.5678", "*******678"),
    ],
)
def test_personal_numbers_are_masked_keeping_the_last_three_digits(raw, expected):
    """An ID, CMND or Vietnamese phone number becomes stars followed by its last three digits."""
    assert _masked({"event": "x", "value": raw}) == {"event": "x", "value": expected}


def test_personal_numbers_are_masked_inside_text_and_nested_values():
    """Numbers are masked inside longer strings, nested dicts, lists and tuples, and as plain integers."""
    event = {
        "event": "dossier.note CCCD 001090123456",
        "applicant": {
            "id_number": "001090123456",
            "contacts": ["Gọi 0912345678 hoặc +84912345678.", {"old_id": "CMND: 012345678"}],
            "pair": ("091 234 5678", "x"),
        },
        "as_int": 791234567890,
    }
    assert _masked(event) == {
        "event": "dossier.note CCCD *********456",
        "applicant": {
            "id_number": "*********456",
            "contacts": ["Gọi *******678 hoặc ********678.", {"old_id": "CMND: ******678"}],
            "pair": ["*******678", "x"],
        },
        "as_int": "*********890",
    }


def test_other_numbers_are_left_alone():
    """Years, amounts, dossier codes, durations and addresses pass through unchanged."""
    event = {
        "event": "dossier.received",
        "year": 2026,
        "year_text": "năm 2026",
        "amount": 200000,
        "amount_text": "200000 đồng",
        "code": "000.00.10.H26-261122-0001",
        "duration_ms": 12.5,
        "remote": "127.0.0.1",
        "ok": True,
        "nothing": None,
    }
    assert _masked(dict(event)) == event


def test_request_id_is_never_altered():
    """A request id is a correlation token: it is logged as is even when it holds a long run of digits."""
    event = {"event": "request", "request_id": "3f0912345678ab001090123456cd9e7f"}
    assert _masked(dict(event)) == event


@pytest.fixture
def json_log(capsys):
    """Returns a function that sends JSON logs to pytest's captured stderr; structlog and the root logger are
    restored after the test. Call it in the test body: the captured stderr of the setup phase is another one."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def start() -> pytest.CaptureFixture[str]:
        configure_logging("INFO", json=True)
        capsys.readouterr()
        return capsys

    yield start
    structlog.configure(**TEST_LOGGING)
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def _log_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


async def test_each_request_logs_one_canonical_line_with_its_request_id(client, orgs, json_log):
    """Every HTTP request logs exactly one JSON "request" line with request_id, method, path, status and
    duration_ms; the X-Request-Id answer header carries the same id, and a caller's own id is echoed."""
    captured = json_log()
    answers = [
        await client.post(
            "/v1/dossiers", json=postal_dossier(), headers={**orgs.postal.auth, "Idempotency-Key": "log-1"}
        ),
        await client.get("/healthz", headers={"X-Request-Id": "caller-req.42"}),
        await client.get("/v1/no-such-route"),
        await client.post("/v1/dossiers", json={}, headers={**orgs.postal.auth, "Idempotency-Key": "log-2"}),
    ]
    assert [a.status for a in answers] == [201, 200, 404, 422]
    lines = [line for line in _log_lines(captured.readouterr().err) if line["event"] == "request"]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("POST", "/v1/dossiers", 201),
        ("GET", "/healthz", 200),
        ("GET", "/v1/no-such-route", 404),
        ("POST", "/v1/dossiers", 422),
    ]
    for answer, line in zip(answers, lines, strict=True):
        assert isinstance(line["duration_ms"], int | float) and line["duration_ms"] >= 0
        assert line["request_id"] and answer.headers["X-Request-Id"] == line["request_id"]
    assert lines[1]["request_id"] == "caller-req.42"
    assert len({line["request_id"] for line in lines}) == len(lines)


async def test_no_raw_personal_number_reaches_the_log(client, orgs, json_log):
    """Filing a dossier and looking up paths that carry an ID or phone number leaves neither number raw in
    the log output, which is JSON throughout."""
    captured = json_log()
    filed = await client.post(
        "/v1/dossiers", json=postal_dossier(), headers={**orgs.postal.auth, "Idempotency-Key": "log-3"}
    )
    assert filed.status == 201, await filed.text()
    looked_up = await client.get("/v1/dossiers/001090123456", headers=orgs.postal.auth)
    tracked = await client.get("/v1/track/0912345678", headers={"X-Tracking-Pin": "123456"})
    assert looked_up.status == 404 and tracked.status == 404
    err = captured.readouterr().err
    lines = _log_lines(err)
    assert [line["path"] for line in lines if line["event"] == "request"] == [
        "/v1/dossiers",
        "/v1/dossiers/*********456",
        "/v1/track/*******678",
    ]
    assert any(line["event"] == "dossier.received" for line in lines)
    assert "001090123456" not in err
    assert "0912345678" not in err


def test_digit_runs_glued_to_letters_are_not_personal_numbers():
    """An S10 item number or a hex token keeps its digits; an ID number after punctuation is still masked."""
    assert mask_text("item EE123456785VN") == "item EE123456785VN"
    assert mask_text("token a001090123456b") == "token a001090123456b"
    assert mask_text("cccd=001090123456;") == "cccd=*********456;"


def test_the_standard_librarys_records_are_masked_too(json_log):
    """aiohttp logs through the standard library (a bad request's first bytes, a handler's traceback): those
    records are JSON lines through the same masking as ours."""
    captured = json_log()
    server_log = logging.getLogger("aiohttp.server")
    server_log.error("Error handling request: b'GET /v1/track/0912345678?id=001090123456 HTTP/1.1'")
    try:
        raise ValueError("applicant 001090123456 refused")
    except ValueError:
        server_log.exception("Error handling request")
    err = captured.readouterr().err
    assert "001090123456" not in err and "0912345678" not in err
    lines = _log_lines(err)
    assert [(line["logger"], line["level"]) for line in lines] == [("aiohttp.server", "error")] * 2
    assert "*******678" in lines[0]["event"] and "*********456" in lines[1]["exception"]
