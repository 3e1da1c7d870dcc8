"""The DVCQG client against the portal simulator over real sockets (sessions, creates and updates, already exists,
status rules, validation, faults, partial batches, look-ups, tampering, online dossiers pushed to a stand-in
gateway), and against a raw socket server for the failures a well-behaved server never shows: whatever goes
wrong, only a PortalError leaves the client."""

import asyncio
import contextlib
import dataclasses
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.dvcqg import messages, online
from adapters.dvcqg.client import PortalClient
from adapters.dvcqg.errors import (
    AlreadyExists,
    MalformedAnswer,
    PortalError,
    PortalRejected,
    PortalUnavailable,
    SessionRejected,
)
from adapters.dvcqg.settings import PortalConfig
from adapters.dvcqg.simulator import SimulatorConfig, start_portal_simulator
from tests.canned_http import SILENT, canned_server
from tests.canned_http import http_answer as _http
from tests.canned_http import json_answer as _json

USERNAME, PASSWORD, UNIT = "motcua-hn", "mat-khau-thu-nghiem", "000.00.00.H26"
VN = messages.VN_TZ
GATEWAY_KEY = "khoa-cong-dvcqg-" + "x" * 24


def _code(number: int, day: str = "260115") -> str:
    return f"000.00.10.H26-{day}-{number:04d}"


def _record(number: int, **changes: Any) -> messages.DossierRecord:
    record = messages.DossierRecord(
        code=_code(number),
        procedure_code="1.001234",
        procedure_name="Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
        sector_code="G12-TP10",
        channel="postal",
        owner_name="Nguyễn Văn An",
        owner_id_number="001090012345",
        received_at=datetime(2026, 1, 15, 9, 30, tzinfo=VN),
        appointment_at=datetime(2026, 1, 26, 17, 0, tzinfo=VN),
        status=2,
        handling_unit="000.00.10.H26",
    )
    return dataclasses.replace(record, **changes)


def _row(number: int, **changes: Any) -> messages.ProgressRow:
    row = messages.ProgressRow(
        code=_code(number),
        officer="Phạm Thị Dung",
        title="Chuyên viên",
        at=datetime(2026, 1, 15, 9, 30, tzinfo=VN),
        department="Bộ phận Một cửa",
        content="Tiếp nhận hồ sơ",
        status=2,
    )
    return dataclasses.replace(row, **changes)


def _config(url: str, **changes: Any) -> PortalConfig:
    config = PortalConfig(url=url, username=USERNAME, password=PASSWORD, unit_code=UNIT, timeout_seconds=2.0)
    return dataclasses.replace(config, **changes)


async def _control(url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{url}/_simulator/{path}", json=body) as answer,
    ):
        return answer.status, await answer.json()


async def _held(url: str) -> dict[str, dict[str, Any]]:
    status, listing = await _control(url, "GET", "dossiers")
    assert status == 200
    return {dossier["MaHoSo"]: dossier for dossier in listing["dossiers"]}


async def _calls(url: str) -> dict[str, Any]:
    return (await _control(url, "GET", "calls"))[1]


async def _faults(url: str, **faults: Any) -> dict[str, Any]:
    status, now = await _control(url, "POST", "faults", faults)
    assert status == 200, now
    return now


async def _raw(url: str, body: Any, *, session: str | None = "login") -> dict[str, Any]:
    """One service call as bytes on the wire, with a fresh session unless told otherwise."""
    async with aiohttp.ClientSession() as http:
        if session == "login":
            async with http.post(f"{url}/api/login", json={"username": USERNAME, "password": PASSWORD}) as answer:
                session = (await answer.json())["session"]
        if isinstance(body, dict) and session is not None:
            body = {"session": session, **body}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with http.post(f"{url}/api/service", data=data) as answer:
            assert answer.status == 200
            return await answer.json()


async def _until(condition: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _portal(**changes: Any) -> AsyncIterator[str]:
    runner, url = await start_portal_simulator(SimulatorConfig(USERNAME, PASSWORD, UNIT, **changes))
    try:
        yield url
    finally:
        await runner.cleanup()


@pytest.fixture
async def simulator() -> AsyncIterator[str]:
    async with _portal() as url:
        yield url


@pytest.fixture
async def client(simulator: str) -> AsyncIterator[PortalClient]:
    async with PortalClient(_config(simulator)) as client:
        yield client


# Sessions, creates and updates.


async def test_create_then_update_in_one_session(client, simulator):
    created = await client.sync_dossiers([_record(1), _record(2)], updating=False)
    assert created.accepted == (_code(1), _code(2)) and created.all_accepted
    assert [o.message for o in created.outcomes] == ["Thêm mới hồ sơ thành công."] * 2
    updated = await client.sync_dossiers([_record(1, status=4)], updating=True)
    assert updated.accepted == (_code(1),) and updated.outcomes[0].message == "Cập nhật hồ sơ thành công."
    held = await _held(simulator)
    assert (held[_code(1)]["history"], held[_code(1)]["updates"], held[_code(2)]["history"]) == ([2, 4], 1, [2])
    assert held[_code(1)]["record"]["TrangThaiHoSo"] == "4" and held[_code(1)]["unit"] == UNIT
    calls = await _calls(simulator)
    assert calls["calls"] == {"login": 1, "DongBoHoSoMC": 2} and calls["sessions_issued"] == 1


async def test_concurrent_calls_share_one_login(client, simulator):
    outcomes = await asyncio.gather(*(client.sync_dossiers([_record(n)], updating=False) for n in range(1, 6)))
    assert all(outcome.all_accepted for outcome in outcomes)
    assert (await _calls(simulator))["sessions_issued"] == 1


async def test_a_second_create_is_already_exists_and_upsert_sends_it_as_an_update(client, simulator):
    await client.sync_dossiers([_record(1)], updating=False)
    again = await client.sync_dossiers([_record(1, status=4), _record(2)], updating=False)
    assert again.already_exists == (_code(1),) and again.accepted == (_code(2),) and again.rejected == ()
    error = again.outcomes[0].error()
    assert isinstance(error, AlreadyExists) and error.error_code == messages.ALREADY_EXISTS
    assert error.message.startswith(f"Hồ sơ {_code(1)} đã tồn tại trên Cổng Dịch vụ công quốc gia")
    assert (await _held(simulator))[_code(1)]["history"] == [2]  # the refused create changed nothing
    upserted = await client.upsert_dossiers([_record(3), _record(1, status=4), _record(4)])
    assert upserted.accepted == (_code(3), _code(1), _code(4)) and upserted.all_accepted
    assert upserted.outcomes[1].message == "Cập nhật hồ sơ thành công."
    assert (await _held(simulator))[_code(1)]["history"] == [2, 4]


async def test_forced_already_exists_stores_nothing(client, simulator):
    assert (await _faults(simulator, force_already_exists=True))["force_already_exists"] is True
    outcome = await client.sync_dossiers([_record(1)], updating=False)
    assert outcome.already_exists == (_code(1),)
    assert await _held(simulator) == {}
    await _faults(simulator, reset=True)
    assert (await client.sync_dossiers([_record(1)], updating=False)).all_accepted


async def test_an_update_of_an_unknown_dossier_is_refused(client, simulator):
    outcome = await client.sync_dossiers([_record(9, status=4)], updating=True)
    [refused] = outcome.rejected
    assert (refused.code, refused.error_code) == (_code(9), messages.NOT_FOUND)
    assert refused.message == f"Không tìm thấy hồ sơ {_code(9)} để cập nhật; gửi với isUpdating = False để thêm mới."
    assert await _held(simulator) == {}


async def test_an_honest_in_order_sync_of_the_whole_lifecycle_is_accepted(client, simulator):
    # received, forwarded, processing, supplement, supplement received, payment, paid, result ready, returned
    await client.sync_dossiers([_record(1)], updating=False)
    for status in (2, 4, 5, 4, 6, 4, 9):
        assert (await client.sync_dossiers([_record(1, status=status)], updating=True)).all_accepted, status
    returned_at = datetime(2026, 1, 20, 10, 0, tzinfo=VN)
    assert (await client.sync_dossiers([_record(1, status=10, returned_at=returned_at)], updating=True)).all_accepted
    held = (await _held(simulator))[_code(1)]
    assert held["history"] == [2, 4, 5, 4, 6, 4, 9, 10] and held["updates"] == 8
    assert held["record"]["NgayTra"] == "20260120100000"
    # A late first sync catches up directly, and skipped steps are still a forward move.
    late = await client.sync_dossiers([_record(2, status=9), _record(3, status=7)], updating=False)
    assert late.all_accepted
    assert (await client.sync_dossiers([_record(2, status=10, returned_at=returned_at)], updating=True)).all_accepted
    await client.sync_dossiers([_record(4)], updating=False)
    assert (await client.sync_dossiers([_record(4, status=9)], updating=True)).all_accepted


@pytest.mark.parametrize(
    ("created_at", "updated_to", "reason"),
    [
        (4, 2, "Không thể chuyển hồ sơ từ trạng thái 'Đang xử lý' về trạng thái 'Được tiếp nhận'."),
        (9, 4, "Không thể chuyển hồ sơ từ trạng thái 'Đã xử lý xong' về trạng thái 'Đang xử lý'."),
        (5, 2, "Không thể chuyển hồ sơ từ trạng thái 'Yêu cầu bổ sung giấy tờ' về trạng thái 'Được tiếp nhận'."),
        (3, 4, "Hồ sơ đã ở trạng thái kết thúc 'Không được tiếp nhận', không thể chuyển sang trạng thái 'Đang xử lý'."),
        (7, 2, "Hồ sơ đã ở trạng thái kết thúc 'Công dân yêu cầu rút hồ sơ'"),
        (8, 4, "Hồ sơ đã ở trạng thái kết thúc 'Dừng xử lý'"),
        (10, 9, "Hồ sơ đã ở trạng thái kết thúc 'Đã trả kết quả', không thể chuyển sang trạng thái 'Đã xử lý xong'."),
    ],
)
async def test_invalid_status_moves_are_refused(client, simulator, created_at, updated_to, reason):
    returned_at = datetime(2026, 1, 20, 10, 0, tzinfo=VN)
    await client.sync_dossiers([_record(1, status=created_at, returned_at=returned_at)], updating=False)
    outcome = await client.sync_dossiers([_record(1, status=updated_to, returned_at=returned_at)], updating=True)
    [refused] = outcome.rejected
    assert refused.error_code == messages.BAD_TRANSITION and refused.message.startswith(reason)
    held = (await _held(simulator))[_code(1)]
    assert (held["history"], held["TrangThaiHoSo"]) == ([created_at], created_at)
    # The same status again is a retry, accepted even from a final status.
    again = await client.sync_dossiers([_record(1, status=created_at, returned_at=returned_at)], updating=True)
    assert again.all_accepted


# Validation: what the portal refuses, with its codes and Vietnamese messages.

GOOD = messages.dossier_fields(_record(1))


def _without(*keys: str) -> Callable[[dict[str, Any]], None]:
    return lambda record: [record.pop(key) for key in keys]


@pytest.mark.parametrize(
    ("change", "error_code", "message"),
    [
        ({"ChuHoSo": " "}, 5, "Thiếu thông tin bắt buộc: ChuHoSo."),
        (_without("MaTTHC", "TenTTHC"), 5, "Thiếu thông tin bắt buộc: MaTTHC, TenTTHC."),
        ({"DonViXuLy": "", "NgayTiepNhan": None}, 5, "Thiếu thông tin bắt buộc: NgayTiepNhan, DonViXuLy."),
        ({"TrangThaiHoSo": "10", "NgayTra": ""}, 5, "Thiếu thông tin bắt buộc: NgayTra."),
        ({"MaHoSo": "H26-260115-0001"}, 6, "Mã hồ sơ (MaHoSo) không đúng cấu trúc"),
        ({"MaHoSo": "000.00.10.H26-261315-0001"}, 6, "Mã hồ sơ (MaHoSo) không đúng cấu trúc"),
        ({"TrangThaiHoSo": "11"}, 6, "Trạng thái hồ sơ (TrangThaiHoSo) phải là số từ 1 đến 10: '11'."),
        ({"TrangThaiHoSo": "đang xử lý"}, 6, "Trạng thái hồ sơ (TrangThaiHoSo) phải là số từ 1 đến 10"),
        ({"KenhThucHien": "4"}, 6, "Kênh thực hiện (KenhThucHien) phải là một trong 1, 2, 3: '4'."),
        ({"LoaiDoiTuong": 1}, 6, "Loại đối tượng (LoaiDoiTuong) phải là một trong 1, 2, 3, 4: 1."),
        ({"HinhThuc": "2"}, 6, "Hình thức trả kết quả (HinhThuc) phải là một trong 0, 1: '2'."),
        (
            {"NgayTiepNhan": "2026-01-15 09:30:00"},
            6,
            "NgayTiepNhan không đúng định dạng yyyyMMddHHmmss (giờ Việt Nam): '2026-01-15 09:30:00'.",
        ),
        ({"NgayTiepNhan": "20260230093000"}, 6, "NgayTiepNhan không đúng định dạng yyyyMMddHHmmss"),
        ({"NgayHenTra": "202601261700"}, 6, "NgayHenTra không đúng định dạng yyyyMMddHHmmss"),
        ({"NgayHenTra": "20260101080000"}, 6, "Ngày hẹn trả (NgayHenTra) không được trước ngày tiếp nhận"),
        ({"TrangThaiHoSo": "10", "NgayTra": "20260114080000"}, 6, "Ngày trả kết quả (NgayTra) không được trước"),
        ({"TaiLieuNop": "tờ khai"}, 6, "TaiLieuNop phải là một mảng các đối tượng JSON."),
        ({"DanhSachGiayToKetQua": ["kết quả"]}, 6, "DanhSachGiayToKetQua phải là một mảng các đối tượng JSON."),
        ({"DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "Gia": "-5"}]}, 6, "Mức phí, lệ phí (Gia) phải là số tiền"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
async def test_bad_dossiers_are_refused_with_the_portal_codes(simulator, change, error_code, message):
    record = dict(GOOD)
    change(record) if callable(change) else record.update(change)
    body = {"madonvi": UNIT, "service": "DongBoHoSoMC", "isUpdating": "False", "data": [record]}
    answer = await _raw(simulator, body)
    [outcome] = answer["data"]
    assert (answer["error_code"], outcome["error_code"]) == (error_code, error_code)
    assert outcome["message"].startswith(message) and answer["message"] == outcome["message"]
    assert await _held(simulator) == {}


async def test_a_refused_record_reaches_the_client_as_its_outcome(client, simulator):
    outcome = await client.sync_dossiers([_record(1), _record(2, owner_name="", owner_id_number="")], updating=False)
    assert outcome.accepted == (_code(1),)
    [refused] = outcome.rejected
    assert (refused.code, refused.error_code) == (_code(2), messages.MISSING_FIELD)
    assert refused.message == "Thiếu thông tin bắt buộc: ChuHoSo, SoGiayToChuHoSo."
    assert set(await _held(simulator)) == {_code(1)}


@pytest.mark.parametrize(
    ("body", "error_code", "message"),
    [
        ({"madonvi": "000.00.00.H01", "service": "TraCuuHoSo"}, 8, "Mã đơn vị (madonvi) không đúng"),
        ({"madonvi": UNIT, "service": "XoaHoSo"}, 9, "Dịch vụ (service) không được hỗ trợ: 'XoaHoSo'."),
        ({"madonvi": UNIT, "service": "DongBoHoSoMC", "isUpdating": "False", "data": []}, 9, "Danh sách hồ sơ"),
        ({"madonvi": UNIT, "service": "DongBoHoSoMC", "isUpdating": "yes", "data": [GOOD]}, 9, "isUpdating phải là"),
        ({"madonvi": UNIT, "service": "DongBoHoSoMC", "isUpdating": 1, "data": [GOOD]}, 9, "isUpdating phải là"),
        ({"madonvi": UNIT, "service": "DongBoHoSoMC", "isUpdating": "True", "data": [GOOD] * 101}, 9, "Mỗi lần gửi"),
        ({"madonvi": UNIT, "service": "CapNhatTienDoHoSoMC", "data": {"MaHoSo": "x"}}, 9, "Danh sách tiến độ"),
        ({"madonvi": UNIT, "service": "TraCuuHoSo"}, 9, "Tra cứu theo danh sách mã hồ sơ"),
        ({"madonvi": UNIT, "service": "TraCuuHoSo", "DanhSachMaHoSo": "x"}, 9, "DanhSachMaHoSo phải là một mảng"),
        ({"madonvi": UNIT, "service": "TraCuuHoSo", "TuNgay": "2026", "DenNgay": "2027"}, 6, "TuNgay và DenNgay"),
        (b"{not json", 9, "Yêu cầu phải là một đối tượng JSON."),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
async def test_bad_requests_are_refused_as_a_whole(simulator, body, error_code, message):
    answer = await _raw(simulator, body)
    assert answer["error_code"] == error_code and answer["message"].startswith(message)
    assert "data" not in answer and "result" not in answer


async def test_a_call_without_a_live_session_is_refused(simulator):
    for session in (None, "phien-gia-mao"):
        answer = await _raw(simulator, {"madonvi": UNIT, "service": "TraCuuHoSo"}, session=session)
        assert answer == {
            "error_code": 2,
            "message": "Phiên làm việc (session) không hợp lệ hoặc đã hết hạn, vui lòng đăng nhập lại.",
        }
    assert (await _calls(simulator))["sessions_refused"] == 2


# Sessions and faults.


async def test_an_expired_session_is_renewed_once_without_the_caller_noticing(client, simulator):
    await _faults(simulator, session_calls=1)
    for number in range(1, 4):
        assert (await client.sync_dossiers([_record(number)], updating=False)).all_accepted
    calls = await _calls(simulator)
    assert calls["calls"] == {"login": 3, "DongBoHoSoMC": 5} and calls["sessions_refused"] == 2
    await _faults(simulator, session_calls=None, expire_sessions=True)
    assert len(await client.lookup([_code(1), _code(2), _code(3)])) == 3
    assert (await _calls(simulator))["sessions_issued"] == 4


async def test_sessions_expire_with_time_too():
    async with _portal(session_seconds=0.2) as url, PortalClient(_config(url)) as client:
        await client.sync_dossiers([_record(1)], updating=False)
        await asyncio.sleep(0.25)
        assert (await client.sync_dossiers([_record(2)], updating=False)).all_accepted
        calls = await _calls(url)
        assert (calls["sessions_issued"], calls["sessions_refused"]) == (2, 1)


async def test_a_wrong_password_is_session_rejected_and_not_retried(simulator):
    async with PortalClient(_config(simulator, password="sai-mat-khau")) as client:
        with pytest.raises(SessionRejected) as raised:
            await client.sync_dossiers([_record(1)], updating=False)
        with pytest.raises(SessionRejected):
            await client.login()
    assert (raised.value.error_code, raised.value.message) == (1, "Tên đăng nhập hoặc mật khẩu không đúng.")
    assert "sai-mat-khau" not in str(raised.value)
    assert (await _calls(simulator))["calls"] == {"login": 2}


async def test_a_5xx_is_unavailable_and_nothing_is_stored(client, simulator):
    await client.login()
    await _faults(simulator, fail_next=2, fail_status=502)
    with pytest.raises(PortalUnavailable, match="HTTP 502"):
        await client.sync_dossiers([_record(1)], updating=False)
    with pytest.raises(PortalUnavailable, match="HTTP 502"):
        await client.lookup([_code(1)])
    assert await _held(simulator) == {}
    assert (await client.sync_dossiers([_record(1)], updating=False)).all_accepted
    assert (await _control(simulator, "GET", "faults"))[1]["fail_next"] == 0


async def test_a_portal_slower_than_the_timeout_is_unavailable(simulator):
    await _faults(simulator, delay_seconds=0.6)
    async with PortalClient(_config(simulator, timeout_seconds=0.2)) as client:
        started = time.monotonic()
        with pytest.raises(PortalUnavailable, match=r"did not answer within 0.2 s"):
            await client.sync_dossiers([_record(1)], updating=False)
        assert time.monotonic() - started < 0.5
        await _faults(simulator, delay_seconds=0)
        await asyncio.sleep(0.5)  # the abandoned login finishes on the server side
        assert (await client.sync_dossiers([_record(1)], updating=False)).all_accepted


async def test_a_partial_batch_failure_leaves_the_others_stored(client, simulator):
    await _faults(simulator, reject_index=2)
    outcome = await client.sync_dossiers([_record(1), _record(2), _record(3)], updating=False)
    assert outcome.accepted == (_code(1), _code(3))
    [failed] = outcome.rejected
    assert (failed.code, failed.error_code) == (_code(2), messages.RECORD_FAILED)
    assert failed.message == f"Lỗi khi lưu hồ sơ {_code(2)}, vui lòng gửi lại."
    assert set(await _held(simulator)) == {_code(1), _code(3)}
    progress = await client.update_progress([_row(1), _row(3)])
    assert progress.accepted == (_code(1),) and progress.rejected[0].error_code == messages.RECORD_FAILED
    await _faults(simulator, reject_index=None)
    assert (await client.upsert_dossiers([_record(2)])).all_accepted
    assert set(await _held(simulator)) == {_code(1), _code(2), _code(3)}


async def test_long_lists_go_in_batches_in_order(simulator):
    async with PortalClient(_config(simulator, batch_size=2)) as client:
        records = [_record(number) for number in range(1, 6)]
        outcome = await client.sync_dossiers(records, updating=False)
        assert outcome.accepted == tuple(record.code for record in records)
        held = await client.lookup([record.code for record in reversed(records)])
        assert [dossier.code for dossier in held] == [record.code for record in reversed(records)]
        rows = [_row(1, content=f"Bước {step}", at=datetime(2026, 1, 15, 9, 30 + step, tzinfo=VN)) for step in range(3)]
        assert (await client.update_progress(rows)).all_accepted
        assert await client.sync_dossiers([], updating=False) == messages.BatchOutcome()
        assert await client.lookup([]) == []
    assert (await _calls(simulator))["calls"] == {
        "login": 1,
        "DongBoHoSoMC": 3,
        "TraCuuHoSo": 3,
        "CapNhatTienDoHoSoMC": 2,
    }


async def test_progress_rows_are_kept_once_and_need_a_synced_dossier(client, simulator):
    await client.sync_dossiers([_record(1)], updating=False)
    rows = [
        _row(1),
        _row(1, officer="Lê Văn Cường", content="Thụ lý hồ sơ", status=4, at=datetime(2026, 1, 16, 8, tzinfo=VN)),
    ]
    assert (await client.update_progress(rows)).all_accepted
    assert (await client.update_progress(rows)).all_accepted  # a retry
    status, progress = await _control(simulator, "GET", f"progress/{_code(1)}")
    assert status == 200 and [row["TrangThai"] for row in progress["rows"]] == ["2", "4"]
    assert progress["rows"][1]["ThoiDiemXuLy"] == "20260116080000"
    [held] = await client.lookup([_code(1)])
    assert held.progress_count == 2
    outcome = await client.update_progress([_row(2)])
    [refused] = outcome.rejected
    assert refused.error_code == messages.NOT_FOUND
    assert refused.message.startswith(f"Không tìm thấy hồ sơ {_code(2)}; cần đồng bộ hồ sơ (DongBoHoSoMC)")
    bad = messages.progress_fields(_row(1)) | {"NguoiXuLy": "", "ThoiDiemXuLy": "16/01/2026"}
    answer = await _raw(simulator, {"madonvi": UNIT, "service": "CapNhatTienDoHoSoMC", "data": [bad]})
    assert answer["data"][0]["message"] == "Thiếu thông tin bắt buộc: NguoiXuLy."
    bad["NguoiXuLy"] = "Phạm Thị Dung"
    answer = await _raw(simulator, {"madonvi": UNIT, "service": "CapNhatTienDoHoSoMC", "data": [bad, "x"]})
    assert [each["error_code"] for each in answer["data"]] == [6, 6]
    assert answer["data"][0]["message"].startswith("ThoiDiemXuLy không đúng định dạng yyyyMMddHHmmss")
    assert (await _control(simulator, "GET", f"progress/{_code(9)}"))[0] == 404


async def test_look_up_by_codes_and_by_period(client, simulator):
    days = {1: datetime(2026, 1, 14, 23, 59, 59, tzinfo=VN), 2: datetime(2026, 1, 15, 0, 0, tzinfo=VN)}
    days |= {3: datetime(2026, 1, 15, 23, 59, 59, tzinfo=VN), 4: datetime(2026, 1, 16, 0, 0, tzinfo=VN)}
    records = [_record(n, received_at=at, appointment_at=at + timedelta(days=10)) for n, at in days.items()]
    await client.sync_dossiers(records, updating=False)
    start, end = datetime(2026, 1, 15, tzinfo=VN), datetime(2026, 1, 16, tzinfo=VN)
    held = await client.lookup(received_from=start, received_to=end)
    assert [dossier.code for dossier in held] == [_code(2), _code(3)]
    assert await client.lookup(received_from=start.astimezone(UTC), received_to=end) == held  # same instant
    assert held[0] == messages.PortalDossier(
        code=_code(2),
        procedure_code="1.001234",
        status=2,
        received_at=days[2],
        appointment_at=days[2] + timedelta(days=10),
        returned_at=None,
        progress_count=0,
    )
    by_code = await client.lookup([_code(4), _code(9), _code(1), _code(4)])
    assert [dossier.code for dossier in by_code] == [_code(4), _code(1)]


async def test_tampering_makes_differences_reconciliation_can_see_and_fix(client, simulator):
    await client.sync_dossiers([_record(1), _record(2)], updating=False)
    await client.sync_dossiers([_record(2, status=4)], updating=True)
    await client.update_progress([_row(2)])
    assert await _control(simulator, "POST", "tamper", {"action": "drop", "MaHoSo": _code(1)}) == (
        200,
        {"tampered": "drop", "MaHoSo": _code(1)},
    )
    for wrong in ([2], "hai", 11):
        body = {"action": "set_status", "MaHoSo": _code(2), "TrangThaiHoSo": wrong}
        assert await _control(simulator, "POST", "tamper", body) == (
            400,
            {"error": "TrangThaiHoSo phải là số từ 1 đến 10."},
        )
    body = {"action": "set_status", "MaHoSo": _code(2), "TrangThaiHoSo": 2}
    assert (await _control(simulator, "POST", "tamper", body))[0] == 200
    assert (await _control(simulator, "POST", "tamper", {"action": "drop_progress", "MaHoSo": _code(2)}))[0] == 200
    held = await client.lookup([_code(1), _code(2)])
    assert [(dossier.code, dossier.status, dossier.progress_count) for dossier in held] == [(_code(2), 2, 0)]
    # Reconciliation: the missing dossier cannot be updated but can be created again; the older status moves on.
    assert (await client.sync_dossiers([_record(1)], updating=True)).rejected[0].error_code == messages.NOT_FOUND
    assert (await client.upsert_dossiers([_record(1), _record(2, status=4)])).all_accepted
    assert (await client.update_progress([_row(2)])).all_accepted
    held = await client.lookup([_code(1), _code(2)])
    assert [(dossier.code, dossier.status, dossier.progress_count) for dossier in held] == [
        (_code(1), 2, 0),
        (_code(2), 4, 1),
    ]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("faults", {"fail_next": -1}, 400),
        ("faults", {"fail_status": 404}, 400),
        ("faults", {"delay_seconds": "chậm"}, 400),
        ("faults", {"session_calls": 0}, 400),
        ("faults", {"reject_index": True}, 400),
        ("faults", {"tắt": True}, 400),
        ("faults", ["reset"], 400),
        ("tamper", {"action": "burn", "MaHoSo": _code(1)}, 400),
        ("tamper", {"action": "drop", "MaHoSo": _code(9)}, 404),
        ("tamper", {"action": "set_status", "MaHoSo": _code(9), "TrangThaiHoSo": [2]}, 404),
        ("submit_online", {}, 409),
    ],
)
async def test_bad_control_requests_are_refused(simulator, path, body, status):
    answer_status, answer = await _control(simulator, "POST", path, body)
    assert answer_status == status and answer["error"]
    assert (await _control(simulator, "GET", "faults"))[1] == {
        "session_calls": None,
        "fail_next": 0,
        "fail_status": 503,
        "delay_seconds": 0.0,
        "force_already_exists": False,
        "reject_index": None,
    }


# Online dossiers pushed to the gateway.


@dataclasses.dataclass
class StandInGateway:
    """The gateway's side of the push: checks key, Idempotency-Key and body shape; answers 503 first if told to."""

    url: str = ""
    fail_first: int = 0
    received: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    refused: list[str] = dataclasses.field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {GATEWAY_KEY}":
            self.refused.append("key")
            return web.json_response({"code": "auth.invalid_key"}, status=401)
        key, body = request.headers.get("Idempotency-Key", ""), await request.json()
        online.parse_online_dossier(body)  # the shape the gateway's intake is written against
        if key != body["portal_reference"] or request.content_type != "application/json":
            self.refused.append("headers")
            return web.json_response({"code": "bad_request"}, status=400)
        self.received.append((key, body))
        if self.fail_first:
            self.fail_first -= 1
            return web.json_response({"code": "unavailable"}, status=503)
        return web.json_response({"code": "000.00.10.H26-260115-0042", "status": "received"}, status=201)


@pytest.fixture
async def gateway() -> AsyncIterator[StandInGateway]:
    stand_in = StandInGateway()
    app = web.Application()
    app.router.add_post(online.PUSH_PATH, stand_in.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    stand_in.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield stand_in
    await runner.cleanup()


VENDOR = Path(online.__file__).resolve().parent / "vendor"


def _form() -> dict[str, Any]:
    return json.loads((VENDOR / "online-submission.json").read_text(encoding="utf-8"))


async def _submitted(url: str, state: str) -> list[dict[str, Any]]:
    async def settled() -> bool:
        return all(each["state"] != "pushing" for each in (await _control(url, "GET", "submitted"))[1]["submitted"])

    await _until(settled)
    pushes = (await _control(url, "GET", "submitted"))[1]["submitted"]
    assert all(each["state"] == state for each in pushes), pushes
    return pushes


async def test_an_online_dossier_is_pushed_and_retried_after_a_503(gateway):
    gateway.fail_first = 1
    async with _portal(gateway_url=gateway.url, gateway_key=GATEWAY_KEY, push_backoff_seconds=0.05) as url:
        assert await _control(url, "POST", "submit_online", _form()) == (
            202,
            {"portal_reference": "DVCQG-260115-000042", "state": "pushing"},
        )
        [push] = await _submitted(url, "delivered")
    assert (push["attempts"], push["status"], push["error"]) == (2, 201, None)
    assert push["answer"] == {"code": "000.00.10.H26-260115-0042", "status": "received"}
    expected = json.loads((VENDOR / "online-push.json").read_text(encoding="utf-8"))
    assert push["body"] == expected
    assert gateway.received == [("DVCQG-260115-000042", expected)] * 2 and gateway.refused == []


async def test_the_portal_assigns_a_reference_and_a_refusal_is_not_retried(gateway):
    form = _form()
    del form["MaHoSoQG"]
    async with _portal(gateway_url=gateway.url, gateway_key="khoa-sai") as url:
        status, answer = await _control(url, "POST", "submit_online", form)
        assert status == 202 and re.fullmatch(r"DVCQG-[0-9]{6}-000001", answer["portal_reference"])
        [push] = await _submitted(url, "refused")
        assert (push["attempts"], push["status"], push["answer"]) == (1, 401, {"code": "auth.invalid_key"})
        assert gateway.refused == ["key"]
        form["ChuHoSo"]["NgaySinh"] = "12/05/1990"
        status, answer = await _control(url, "POST", "submit_online", form)
        assert status == 400 and answer["error"].startswith("ChuHoSo.NgaySinh phải có dạng yyyyMMdd")


async def test_a_gateway_that_stays_down_is_given_up_after_the_attempts():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {"gateway_url": f"http://127.0.0.1:{port}", "gateway_key": GATEWAY_KEY, "push_backoff_seconds": 0.01}
    async with _portal(push_attempts=3, **config) as url:
        await _control(url, "POST", "submit_online", _form())
        [push] = await _submitted(url, "failed")
    assert push["attempts"] == 3 and push["status"] is None and push["error"].startswith("ClientConnectorError")


async def test_cleanup_stops_pushes_under_way():
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.read()
        writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    try:
        gateway_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        runner, url = await start_portal_simulator(SimulatorConfig(USERNAME, PASSWORD, UNIT, gateway_url=gateway_url))
        await _control(url, "POST", "submit_online", _form())
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await runner.cleanup()
        assert time.monotonic() - started < 1.5
    finally:
        server.close()
        await server.wait_closed()


# A raw socket server with canned answers: malformed, truncated, silent, refused.


SECRET_SESSION = "s3ss10n-t0k3n"
LOGIN = _json({"error_code": 0, "message": "Đăng nhập thành công.", "session": SECRET_SESSION})
HELD = {"MaHoSo": _code(1), "TrangThaiHoSo": "2", "NgayTiepNhan": "20260115093000"}
M, U, R, S = MalformedAnswer, PortalUnavailable, PortalRejected, SessionRejected
# case → (login answer, service answer, error from sync_dossiers, error from lookup)
CASES: dict[str, tuple[bytes | None, bytes | None, type[PortalError] | None, type[PortalError]]] = {
    "not-json": (LOGIN, _http("200 OK", "<html>Bảo trì hệ thống</html>".encode(), "text/html"), M, M),
    "json-array": (LOGIN, _json([]), M, M),
    "no-error-code": (LOGIN, _json({"message": "Thành công"}), M, M),
    "error-code-bool": (LOGIN, _json({"error_code": False, "data": [], "result": []}), M, M),
    "outcomes-of-other-records": (
        LOGIN,
        _json({"error_code": 0, "data": [{"MaHoSo": _code(2), "error_code": 0}]}),
        M,
        M,
    ),
    "held-with-bad-date": (
        LOGIN,
        _json(
            {"error_code": 0, "data": [{"MaHoSo": _code(1), "error_code": 0}], "result": [HELD | {"NgayTiepNhan": 1}]}
        ),
        None,  # the sync reads only its outcomes, and they are fine
        M,
    ),
    "refused-as-a-whole": (LOGIN, _json({"error_code": 8, "message": "Mã đơn vị (madonvi) không đúng"}), R, R),
    "refused-with-400": (LOGIN, _json({"error_code": "9", "message": "Sai"}, "400 Bad Request"), R, R),
    "http-404-html": (LOGIN, _http("404 Not Found", b"<h1>404</h1>", "text/html"), M, M),
    "http-401-json-without-code": (LOGIN, _json({"error": "unauthorized"}, "401 Unauthorized"), M, M),
    "redirect": (LOGIN, _http("302 Found", Location="/dang-nhap"), U, U),
    "too-large": (LOGIN, _http("200 OK", b'{"x": "' + b"a" * (9 << 20) + b'"}'), U, U),
    "absurd-nesting": (LOGIN, _http("200 OK", b"[" * 200_000), M, M),
    "http-500": (LOGIN, _http("500 Internal Server Error", b"oops", "text/plain"), U, U),
    "http-503-json": (LOGIN, _json({"error_code": 0}, "503 Service Unavailable"), U, U),
    "http-429": (LOGIN, _http("429 Too Many Requests"), U, U),
    "truncated": (LOGIN, _http("200 OK", b'{"error_code": ', Content_Length="100"), U, U),
    "not-http": (LOGIN, b"SSH-2.0-OpenSSH_9.6\r\n\r\n", U, U),
    "hang-up": (LOGIN, b"", U, U),
    "silent": (LOGIN, SILENT, U, U),
    "always-session-invalid": (LOGIN, _json({"error_code": 2, "message": "Phiên làm việc hết hạn"}), U, U),
    "login-refused": (_json({"error_code": "1", "message": "Sai mật khẩu"}), _json({}), S, S),
    "login-not-json": (_http("200 OK", b"session=abc", "text/plain"), _json({}), M, M),
    "login-without-session": (_json({"error_code": 0, "message": "OK"}), _json({}), M, M),
    "login-redirect": (_http("301 Moved Permanently", Location="/sso/dang-nhap"), _json({}), U, U),
    "login-silent": (SILENT, _json({}), U, U),
}


def _canned(case: str):
    login, service, _, _ = CASES[case]
    return canned_server("/api/login", login, service)


@pytest.mark.parametrize("operation", ["sync", "lookup"])
@pytest.mark.parametrize("case", list(CASES))
async def test_every_failure_is_a_portal_error(case, operation):
    expected = CASES[case][2 if operation == "sync" else 3]
    async with _canned(case) as (fake, url), PortalClient(_config(url, timeout_seconds=0.3)) as client:
        call = client.sync_dossiers([_record(1)], updating=False) if operation == "sync" else client.lookup([_code(1)])
        if expected is None:
            assert (await call).all_accepted
            return
        with pytest.raises(expected) as raised:
            await call
    assert isinstance(raised.value, PortalError)
    assert SECRET_SESSION not in str(raised.value) and PASSWORD not in str(raised.value)
    assert set(fake.paths) <= {"/api/login", "/api/service"}  # a redirect is not followed
    if case.endswith("redirect"):
        assert "redirects instead of answering" in str(raised.value)
    if case == "always-session-invalid":  # logged in again once, tried once more, and no loop
        assert fake.paths == ["/api/login", "/api/service", "/api/login", "/api/service"]
    if case.startswith("login-"):
        assert fake.paths == ["/api/login"]
    elif fake.bodies[1:]:
        sent = json.loads(fake.bodies[1])
        assert (sent["session"], sent["madonvi"]) == (SECRET_SESSION, UNIT)


async def test_nobody_listening_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with PortalClient(_config(f"http://127.0.0.1:{port}", timeout_seconds=0.5)) as client:
        with pytest.raises(PortalUnavailable, match="cannot talk to the portal"):
            await client.sync_dossiers([_record(1)], updating=False)
        with pytest.raises(PortalUnavailable):
            await client.update_progress([_row(1)])
        with pytest.raises(PortalUnavailable):
            await client.lookup(received_from=datetime(2026, 1, 1, tzinfo=VN), received_to=datetime.now(VN))
