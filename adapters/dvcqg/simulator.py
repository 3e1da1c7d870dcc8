"""DVCQG simulator: the National Public Service Portal's one-stop sync API on a real port, for the demo and the tests.

  POST /api/login     {"username", "password"} → {"error_code": 0, "message", "session"}; wrong → error_code 1
  POST /api/service   {"session", "madonvi", "service", ...}:
      DongBoHoSoMC         {"isUpdating": "True"|"False", "data": [dossier, ...]}
      CapNhatTienDoHoSoMC  {"data": [progress row, ...]}
      TraCuuHoSo           {"DanhSachMaHoSo": [...]} or {"TuNgay", "DenNgay"} → {"result": [dossier held, ...]}
  A batch answer has one outcome per record in "data" (some accepted, some refused), the overall error_code being
  0 when all were accepted, else the first refusal's. A refusal of the request as a whole has no "data":
  2 session unknown or expired, 8 madonvi not this account's unit, 9 bad request (not JSON, unknown service, no
  records, too many). Per record: 3 already exists, 4 unknown MaHoSo, 5 missing field, 6 bad format, 7 the status
  cannot move that way (status.py), 10 a storage failure (a fault mode). Messages are Vietnamese, as the portal's.

What it checks of a dossier: the fields in REQUIRED_DOSSIER (and NgayTra once the result was returned), the
MaHoSo pattern `{agency identifier}-{yyMMdd}-{NNNN}`, TrangThaiHoSo 1–10, the code lists (KenhThucHien,
LoaiDoiTuong, HinhThuc), dates as yyyyMMddHHmmss with NgayHenTra and NgayTra not before NgayTiepNhan, the list
fields, fee amounts. A create of a known MaHoSo is "already exists"; an update of an unknown one is refused; a
status moves as status.py allows. Identical progress rows are kept once (a retry must not double the history).

Control (never faulted):
  POST /_simulator/faults        any of {"session_calls": n|null, "expire_sessions": true, "fail_next": n,
                                 "fail_status": 5xx, "delay_seconds": s, "force_already_exists": bool,
                                 "reject_index": k|null, "reset": true} → the faults now in force (also GET)
  GET  /_simulator/calls          calls by service ("login" included), sessions issued and refused
  GET  /_simulator/dossiers       what it holds, with each dossier's status history
  GET  /_simulator/progress/{code}
  POST /_simulator/tamper         {"action": "drop" | "drop_progress" | "set_status", "MaHoSo", "TrangThaiHoSo"}:
                                 differences for reconciliation tests, applied without any check
  POST /_simulator/submit_online  an online dossier in the portal's form (vendor/online-submission.json) → 202;
                                 pushed to SimulatorConfig.gateway_url in the background, retried on 5xx and
                                 connection errors. A document without DuongDanTaiTepTin is held by the simulator:
                                 its bytes from NoiDung (base64), else a small distinct PDF made up for it; MaBam
                                 and KichThuoc default to the bytes' SHA-256 and size (a MaBam given is kept, so
                                 a test can declare a hash the file does not have), LoaiTep to the type the bytes
                                 announce; the push names `{public_url}/files/{MaBam}`
  GET  /_simulator/submitted      every push: reference, state, attempts, the gateway's status and JSON answer

Files (what the gateway fetches; never faulted, counted as "files" in /_simulator/calls):
  GET  /files/{sha256}            a file the simulator holds, under the hash it was declared with; else 404
"""

import argparse
import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from adapters.dvcqg import messages, online, status
from adapters.dvcqg.messages import (
    ALREADY_EXISTS,
    BAD_FORMAT,
    BAD_REQUEST,
    BAD_TRANSITION,
    LOGIN_REFUSED,
    MISSING_FIELD,
    NOT_FOUND,
    OK,
    RECORD_FAILED,
    SESSION_INVALID,
    WRONG_UNIT,
)

REQUIRED_DOSSIER = (
    "MaHoSo",
    "MaTTHC",
    "TenTTHC",
    "MaLinhVuc",
    "KenhThucHien",
    "ChuHoSo",
    "LoaiDoiTuong",
    "SoGiayToChuHoSo",
    "NgayTiepNhan",
    "TrangThaiHoSo",
    "HinhThuc",
    "DonViXuLy",
)
REQUIRED_PROGRESS = ("MaHoSo", "NguoiXuLy", "ThoiDiemXuLy", "NoiDungXuLy", "TrangThai")
CODE_LISTS = (
    ("KenhThucHien", "Kênh thực hiện", frozenset(messages.CHANNELS.values())),
    ("LoaiDoiTuong", "Loại đối tượng", frozenset(messages.SUBJECT_KINDS.values())),
    ("HinhThuc", "Hình thức trả kết quả", frozenset(messages.RETURN_METHODS.values())),
)
LIST_FIELDS = ("TaiLieuNop", "DanhSachLePhi", "DanhSachHoSoBoSung", "DanhSachGiayToKetQua")
_RETRY_STATUSES = frozenset({408, 429})


@dataclass
class SimulatorConfig:
    username: str
    password: str
    unit_code: str  # the madonvi this account may send
    session_seconds: float = 1800.0  # a session's life
    session_calls: int | None = None  # fault: every session expires after this many service calls
    fail_next: int = 0  # fault: the next n calls (login included) get fail_status
    fail_status: int = 503
    delay_seconds: float = 0.0  # fault: every call waits this long before it is answered
    force_already_exists: bool = False  # fault: every create is answered "already exists" (and not stored)
    reject_index: int | None = None  # fault: the k-th record (from 1) of every batch fails with error_code 10
    max_batch: int = 100  # records per call
    gateway_url: str | None = None  # where online dossiers are pushed (base URL; the path is online.PUSH_PATH)
    gateway_key: str | None = None  # sent as Authorization: Bearer <key>
    push_attempts: int = 4
    push_backoff_seconds: float = 0.1  # doubled after each failed attempt
    push_timeout_seconds: float = 5.0
    public_url: str | None = None  # base of the file links pushed; default: the address the form was posted to


@dataclass
class _Faults:
    session_calls: int | None
    fail_next: int
    fail_status: int
    delay_seconds: float
    force_already_exists: bool
    reject_index: int | None

    @classmethod
    def of(cls, config: SimulatorConfig) -> "_Faults":
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})


@dataclass
class _Session:
    expires_at: float  # monotonic
    calls: int = 0


@dataclass
class _Dossier:
    unit: str
    record: dict[str, Any]
    status: int
    history: list[int]
    updates: int = 0


@dataclass
class _State:
    config: SimulatorConfig
    faults: _Faults
    sessions: dict[str, _Session] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    sessions_issued: int = 0
    sessions_refused: int = 0
    dossiers: dict[str, _Dossier] = field(default_factory=dict)
    progress: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    submitted: list[dict[str, Any]] = field(default_factory=list)
    serial: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    http: aiohttp.ClientSession | None = None  # for pushes, opened on the first one
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # declared MaBam → (bytes, media type)


STATE = web.AppKey("dvcqg_simulator", _State)


def _answer(error_code: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error_code": error_code, "message": message, **extra})


def _outcome(code: Any, error_code: int, message: str) -> dict[str, Any]:
    name = code if isinstance(code, str) else "" if code is None else str(code)
    return {"MaHoSo": name, "error_code": error_code, "message": message}


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError):
        return None


async def _faulted(state: _State) -> web.Response | None:
    """The slow and failing fault modes, applied to every call but the control endpoints."""
    if state.faults.delay_seconds:
        await asyncio.sleep(state.faults.delay_seconds)
    if state.faults.fail_next > 0:
        state.faults.fail_next -= 1
        status_code = state.faults.fail_status
        page = f"<html><body><h1>{status_code} Service Unavailable</h1></body></html>"
        return web.Response(status=status_code, text=page, content_type="text/html")
    return None


async def login(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.calls["login"] += 1
    body = await _json(request)
    if (faulted := await _faulted(state)) is not None:
        return faulted
    if not isinstance(body, dict):
        return _answer(BAD_REQUEST, "Yêu cầu đăng nhập phải là JSON có username và password.")
    username, password = str(body.get("username", "")), str(body.get("password", ""))
    if not (
        hmac.compare_digest(username.encode(), state.config.username.encode())
        & hmac.compare_digest(password.encode(), state.config.password.encode())
    ):
        return _answer(LOGIN_REFUSED, "Tên đăng nhập hoặc mật khẩu không đúng.")
    token = secrets.token_urlsafe(24)
    state.sessions[token] = _Session(time.monotonic() + state.config.session_seconds)
    state.sessions_issued += 1
    return _answer(OK, "Đăng nhập thành công.", session=token)


def _session_valid(state: _State, token: Any) -> bool:
    session = state.sessions.get(token) if isinstance(token, str) else None
    limit = state.faults.session_calls
    if session is None or time.monotonic() >= session.expires_at or (limit is not None and session.calls >= limit):
        if isinstance(token, str):
            state.sessions.pop(token, None)
        state.sessions_refused += 1
        return False
    session.calls += 1
    return True


async def service(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _json(request)
    name = body.get("service") if isinstance(body, dict) else None
    state.calls[name if name in messages.SERVICES else "?"] += 1
    if (faulted := await _faulted(state)) is not None:
        return faulted
    if not isinstance(body, dict):
        return _answer(BAD_REQUEST, "Yêu cầu phải là một đối tượng JSON.")
    if not _session_valid(state, body.get("session")):
        return _answer(
            SESSION_INVALID, "Phiên làm việc (session) không hợp lệ hoặc đã hết hạn, vui lòng đăng nhập lại."
        )
    if body.get("madonvi") != state.config.unit_code:
        return _answer(WRONG_UNIT, "Mã đơn vị (madonvi) không đúng với tài khoản kết nối.")
    if name == messages.SYNC:
        return _sync(state, body)
    if name == messages.PROGRESS:
        return _progress(state, body)
    if name == messages.LOOKUP:
        return _lookup(state, body)
    return _answer(BAD_REQUEST, f"Dịch vụ (service) không được hỗ trợ: {name!r}.")


def _records(state: _State, body: dict[str, Any], what: str) -> list[Any] | web.Response:
    data = body.get("data")
    if not isinstance(data, list) or not data:
        return _answer(BAD_REQUEST, f"Danh sách {what} (data) phải là một mảng khác rỗng.")
    if len(data) > state.config.max_batch:
        return _answer(BAD_REQUEST, f"Mỗi lần gửi tối đa {state.config.max_batch} {what}, không phải {len(data)}.")
    return data


def _batch_answer(outcomes: list[dict[str, Any]]) -> web.Response:
    failed = [outcome for outcome in outcomes if outcome["error_code"] != OK]
    if not failed:
        return _answer(OK, "Thành công.", data=outcomes)
    if len(outcomes) == 1:
        return _answer(failed[0]["error_code"], failed[0]["message"], data=outcomes)
    message = f"{len(failed)}/{len(outcomes)} bản ghi không được tiếp nhận; xem kết quả từng bản ghi trong data."
    return _answer(failed[0]["error_code"], message, data=outcomes)


def _present(value: Any) -> bool:
    return (isinstance(value, str) and bool(value.strip())) or (isinstance(value, int) and not isinstance(value, bool))


def _status_of(value: Any) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    return value if status.is_status(value) else None


def _time_problem(record: dict[str, Any], key: str) -> tuple[str | None, datetime | None]:
    value = record.get(key)
    if value in (None, ""):
        return None, None
    try:
        return None, messages.parse_portal_time(value)
    except ValueError:
        return f"{key} không đúng định dạng yyyyMMddHHmmss (giờ Việt Nam): {value!r}.", None


def _amount_ok(value: Any) -> bool:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return True
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _dossier_problem(record: Any) -> tuple[int, str] | None:
    """(error_code, message) for the first thing wrong with a dossier, None when it is well-formed."""
    if not isinstance(record, dict):
        return BAD_FORMAT, "Mỗi hồ sơ phải là một đối tượng JSON."
    missing = [key for key in REQUIRED_DOSSIER if not _present(record.get(key))]
    if not missing and _status_of(record["TrangThaiHoSo"]) == status.PortalStatus.RESULT_RETURNED:
        missing += [] if _present(record.get("NgayTra")) else ["NgayTra"]
    if missing:
        return MISSING_FIELD, f"Thiếu thông tin bắt buộc: {', '.join(missing)}."
    if (problem := messages.dossier_code_problem(record["MaHoSo"])) is not None:
        return BAD_FORMAT, problem
    if _status_of(record["TrangThaiHoSo"]) is None:
        return BAD_FORMAT, f"Trạng thái hồ sơ (TrangThaiHoSo) phải là số từ 1 đến 10: {record['TrangThaiHoSo']!r}."
    for key, name, allowed in CODE_LISTS:
        if not isinstance(record[key], str) or record[key] not in allowed:
            return BAD_FORMAT, f"{name} ({key}) phải là một trong {', '.join(sorted(allowed))}: {record[key]!r}."
    times = {}
    for key in ("NgayTiepNhan", "NgayHenTra", "NgayTra"):
        problem, times[key] = _time_problem(record, key)
        if problem is not None:
            return BAD_FORMAT, problem
    received = times["NgayTiepNhan"]
    for key, name in (("NgayHenTra", "Ngày hẹn trả"), ("NgayTra", "Ngày trả kết quả")):
        if times[key] is not None and received is not None and times[key] < received:
            return BAD_FORMAT, f"{name} ({key}) không được trước ngày tiếp nhận (NgayTiepNhan)."
    for key in LIST_FIELDS:
        items = record.get(key)
        if items is not None and not (isinstance(items, list) and all(isinstance(item, dict) for item in items)):
            return BAD_FORMAT, f"{key} phải là một mảng các đối tượng JSON."
    for fee in record.get("DanhSachLePhi") or ():
        if not _amount_ok(fee.get("Gia")):
            return BAD_FORMAT, f"Mức phí, lệ phí (Gia) phải là số tiền nguyên không âm (đồng): {fee.get('Gia')!r}."
    return None


def _sync_one(state: _State, unit: str, record: Any, updating: bool, position: int) -> dict[str, Any]:
    code = record.get("MaHoSo") if isinstance(record, dict) else None
    if state.faults.reject_index == position:
        return _outcome(code, RECORD_FAILED, f"Lỗi khi lưu hồ sơ {code}, vui lòng gửi lại.")
    if (problem := _dossier_problem(record)) is not None:
        return _outcome(code, *problem)
    new_status = _status_of(record["TrangThaiHoSo"])
    assert new_status is not None
    held = state.dossiers.get(code)
    if held is not None and held.unit != unit:
        held = None  # another unit's dossier is none of this account's business
    if not updating:
        if held is not None or state.faults.force_already_exists:
            message = (
                f"Hồ sơ {code} đã tồn tại trên Cổng Dịch vụ công quốc gia; gửi lại với isUpdating = True để cập nhật."
            )
            return _outcome(code, ALREADY_EXISTS, message)
        state.dossiers[code] = _Dossier(unit, dict(record), new_status, [new_status])
        return _outcome(code, OK, "Thêm mới hồ sơ thành công.")
    if held is None:
        return _outcome(
            code, NOT_FOUND, f"Không tìm thấy hồ sơ {code} để cập nhật; gửi với isUpdating = False để thêm mới."
        )
    if (problem := status.transition_problem(held.status, new_status)) is not None:
        return _outcome(code, BAD_TRANSITION, problem)
    held.record, held.updates = dict(record), held.updates + 1
    if new_status != held.status:
        held.status = new_status
        held.history.append(new_status)
    return _outcome(code, OK, "Cập nhật hồ sơ thành công.")


def _sync(state: _State, body: dict[str, Any]) -> web.Response:
    flag = body.get("isUpdating")
    updating = (
        flag if isinstance(flag, bool) else {"True": True, "False": False}.get(flag) if isinstance(flag, str) else None
    )
    if updating is None:
        return _answer(BAD_REQUEST, f'isUpdating phải là "True" hoặc "False": {flag!r}.')
    records = _records(state, body, "hồ sơ")
    if isinstance(records, web.Response):
        return records
    unit = body["madonvi"]
    return _batch_answer([_sync_one(state, unit, r, updating, i) for i, r in enumerate(records, start=1)])


def _progress_one(state: _State, unit: str, row: Any, position: int) -> dict[str, Any]:
    code = row.get("MaHoSo") if isinstance(row, dict) else None
    if state.faults.reject_index == position:
        return _outcome(code, RECORD_FAILED, f"Lỗi khi lưu tiến độ hồ sơ {code}, vui lòng gửi lại.")
    if not isinstance(row, dict):
        return _outcome(code, BAD_FORMAT, "Mỗi bản ghi tiến độ phải là một đối tượng JSON.")
    missing = [key for key in REQUIRED_PROGRESS if not _present(row.get(key))]
    if missing:
        return _outcome(code, MISSING_FIELD, f"Thiếu thông tin bắt buộc: {', '.join(missing)}.")
    if _status_of(row["TrangThai"]) is None:
        return _outcome(code, BAD_FORMAT, f"Trạng thái (TrangThai) phải là số từ 1 đến 10: {row['TrangThai']!r}.")
    for key in ("ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh"):
        problem, _ = _time_problem(row, key)
        if problem is not None:
            return _outcome(code, BAD_FORMAT, problem)
    held = state.dossiers.get(code)
    if held is None or held.unit != unit:
        message = f"Không tìm thấy hồ sơ {code}; cần đồng bộ hồ sơ (DongBoHoSoMC) trước khi cập nhật tiến độ."
        return _outcome(code, NOT_FOUND, message)
    rows = state.progress.setdefault(code, [])
    if row not in rows:  # the same row sent again (a retry) is kept once
        rows.append(dict(row))
    return _outcome(code, OK, "Cập nhật tiến độ thành công.")


def _progress(state: _State, body: dict[str, Any]) -> web.Response:
    rows = _records(state, body, "tiến độ")
    if isinstance(rows, web.Response):
        return rows
    unit = body["madonvi"]
    return _batch_answer([_progress_one(state, unit, row, i) for i, row in enumerate(rows, start=1)])


def _held(state: _State, dossier: _Dossier, code: str) -> dict[str, Any]:
    record = dossier.record
    return {
        "MaHoSo": code,
        "MaTTHC": record.get("MaTTHC", ""),
        "TrangThaiHoSo": str(dossier.status),
        "NgayTiepNhan": record["NgayTiepNhan"],
        "NgayHenTra": record.get("NgayHenTra") or "",
        "NgayTra": record.get("NgayTra") or "",
        "SoBanGhiTienDo": len(state.progress.get(code, ())),
    }


def _lookup(state: _State, body: dict[str, Any]) -> web.Response:
    unit = body["madonvi"]
    codes, start, end = body.get("DanhSachMaHoSo"), body.get("TuNgay"), body.get("DenNgay")
    if (codes is None) == (start is None and end is None):
        return _answer(
            BAD_REQUEST,
            "Tra cứu theo danh sách mã hồ sơ (DanhSachMaHoSo) hoặc theo khoảng ngày tiếp nhận (TuNgay, DenNgay), "
            "không cả hai.",
        )
    mine = {code: dossier for code, dossier in state.dossiers.items() if dossier.unit == unit}
    if codes is not None:
        if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
            return _answer(BAD_REQUEST, "DanhSachMaHoSo phải là một mảng các mã hồ sơ.")
        if not codes or len(codes) > state.config.max_batch:
            return _answer(BAD_REQUEST, f"DanhSachMaHoSo có từ 1 đến {state.config.max_batch} mã hồ sơ.")
        found = [code for code in dict.fromkeys(codes) if code in mine]
        return _answer(OK, "Thành công.", result=[_held(state, mine[code], code) for code in found])
    try:
        since, until = messages.parse_portal_time(start), messages.parse_portal_time(end)
    except ValueError:
        return _answer(BAD_FORMAT, f"TuNgay và DenNgay phải có dạng yyyyMMddHHmmss (giờ Việt Nam): {start!r}, {end!r}.")
    held = sorted(
        (messages.parse_portal_time(dossier.record["NgayTiepNhan"]), code)
        for code, dossier in mine.items()
        if since <= messages.parse_portal_time(dossier.record["NgayTiepNhan"]) < until
    )
    return _answer(OK, "Thành công.", result=[_held(state, mine[code], code) for _, code in held])


# Control endpoints.


def _control_error(message: str, status_code: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status_code)


def _count(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= 10**6


async def set_faults(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _json(request)
    if not isinstance(body, dict):
        return _control_error("Cấu hình lỗi mô phỏng phải là một đối tượng JSON.")
    checks: dict[str, Callable[[Any], bool]] = {
        "session_calls": lambda v: v is None or _count(v, 1),
        "expire_sessions": lambda v: isinstance(v, bool),
        "fail_next": lambda v: _count(v, 0),
        "fail_status": lambda v: _count(v, 500) and v <= 599,
        "delay_seconds": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 600,
        "force_already_exists": lambda v: isinstance(v, bool),
        "reject_index": lambda v: v is None or _count(v, 1),
        "reset": lambda v: isinstance(v, bool),
    }
    for key, value in body.items():
        if key not in checks or not checks[key](value):
            return _control_error(f"Giá trị không hợp lệ cho {key!r}: {value!r}.")
    if body.get("reset"):
        state.faults = _Faults.of(state.config)
    if body.get("expire_sessions"):
        state.sessions.clear()
    for key in ("session_calls", "fail_next", "fail_status", "delay_seconds", "force_already_exists", "reject_index"):
        if key in body:
            setattr(state.faults, key, body[key])
    return web.json_response(asdict(state.faults))


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(asdict(request.app[STATE].faults))


async def get_calls(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(
        {
            "calls": dict(state.calls),
            "sessions_issued": state.sessions_issued,
            "sessions_refused": state.sessions_refused,
        }
    )


async def list_dossiers(request: web.Request) -> web.Response:
    state = request.app[STATE]
    listing = [
        {
            "MaHoSo": code,
            "unit": dossier.unit,
            "TrangThaiHoSo": dossier.status,
            "history": dossier.history,
            "updates": dossier.updates,
            "record": dossier.record,
        }
        for code, dossier in state.dossiers.items()
    ]
    return web.json_response({"dossiers": listing})


async def get_progress(request: web.Request) -> web.Response:
    state = request.app[STATE]
    code = request.match_info["code"]
    if code not in state.dossiers and code not in state.progress:
        return _control_error(f"Không có hồ sơ {code}.", 404)
    return web.json_response({"MaHoSo": code, "rows": state.progress.get(code, [])})


async def tamper(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _json(request)
    if not isinstance(body, dict) or body.get("action") not in ("drop", "drop_progress", "set_status"):
        return _control_error('action phải là "drop", "drop_progress" hoặc "set_status".')
    code = body.get("MaHoSo")
    dossier = state.dossiers.get(code) if isinstance(code, str) else None
    if dossier is None:
        return _control_error(f"Không có hồ sơ {code!r}.", 404)
    if body["action"] == "drop":
        del state.dossiers[code]
        state.progress.pop(code, None)
    elif body["action"] == "drop_progress":
        state.progress.pop(code, None)
    else:
        new_status = _status_of(body.get("TrangThaiHoSo"))
        if new_status is None:
            return _control_error("TrangThaiHoSo phải là số từ 1 đến 10.")
        dossier.status = new_status
        dossier.record["TrangThaiHoSo"] = str(new_status)
    return web.json_response({"tampered": body["action"], "MaHoSo": code})


def _spawn(state: _State, coroutine: Coroutine[Any, Any, None]) -> None:
    task = asyncio.create_task(coroutine)
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)


_SIGNATURES = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def _made_up_pdf(label: str) -> bytes:
    """A small file that is a PDF by its signature, distinct per label."""
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n% " + label.encode() + b"\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _hold_files(state: _State, form: Any, base_url: str, reference: str) -> str | None:
    """Take the files the form carries (or make them up) and point their documents at /files/{MaBam}; the form
    is changed in place. A documents entry that already has DuongDanTaiTepTin is left alone (the portal keeps
    that file elsewhere). The problem, in Vietnamese, or None."""
    items = form.get("TaiLieuNop") if isinstance(form, dict) else None
    if not isinstance(items, list):
        return None  # parse_portal_submission names what is wrong
    label = form.get("MaHoSoQG") if isinstance(form.get("MaHoSoQG"), str) else reference
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict) or "DuongDanTaiTepTin" in item:
            continue
        if "NoiDung" in item:
            try:
                content = base64.b64decode(item.pop("NoiDung"), validate=True)
            except (binascii.Error, TypeError, ValueError):
                return f"TaiLieuNop[{index}].NoiDung phải là nội dung tệp mã hóa base64."
            if not content:
                return f"TaiLieuNop[{index}].NoiDung rỗng."
        else:
            content = _made_up_pdf(f"{label} {item.get('MaThanhPhanHoSo')} {index}")
        announced = next((kind for sign, kind in _SIGNATURES if content.startswith(sign)), "application/octet-stream")
        item.setdefault("MaBam", hashlib.sha256(content).hexdigest())
        item.setdefault("KichThuoc", len(content))
        item.setdefault("LoaiTep", announced)
        if not isinstance(item["MaBam"], str) or not isinstance(item["LoaiTep"], str):
            continue  # parse_portal_submission refuses the form
        state.files[item["MaBam"].lower()] = (content, item["LoaiTep"])
        item["DuongDanTaiTepTin"] = f"{base_url}/files/{quote(item['MaBam'].lower(), safe='')}"
    return None


async def serve_file(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.calls["files"] += 1
    held = state.files.get(request.match_info["sha256"])
    if held is None:
        return web.Response(status=404, text="Không có tệp này.")
    content, media_type = held
    return web.Response(body=content, content_type=media_type)


async def submit_online(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.config.gateway_url is None:
        return _control_error("Chưa cấu hình địa chỉ gateway (gateway_url) để chuyển hồ sơ trực tuyến.", 409)
    now = datetime.now(messages.VN_TZ).replace(microsecond=0)
    state.serial += 1
    reference = f"DVCQG-{now:%y%m%d}-{state.serial:06d}"
    form = await _json(request)
    base_url = (state.config.public_url or str(request.url.origin())).rstrip("/")
    if (problem := _hold_files(state, form, base_url, reference)) is not None:
        return _control_error(problem)
    try:
        dossier = online.parse_portal_submission(form, reference=reference, now=now)
    except ValueError as exc:
        return _control_error(str(exc))
    entry: dict[str, Any] = {
        "portal_reference": dossier.portal_reference,
        "state": "pushing",
        "attempts": 0,
        "status": None,
        "answer": None,
        "error": None,
        "body": online.online_dossier_body(dossier),
    }
    state.submitted.append(entry)
    _spawn(state, _push(state, entry))
    return web.json_response({"portal_reference": dossier.portal_reference, "state": "pushing"}, status=202)


def _decoded(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return {"text": raw[:2000].decode("utf-8", "replace")}


async def _push(state: _State, entry: dict[str, Any]) -> None:
    """POST the dossier to the gateway; a 5xx, 408, 429, timeout or connection failure is tried again after a
    growing pause, any other answer is final and recorded."""
    config = state.config
    assert config.gateway_url is not None
    raw = json.dumps(entry["body"], ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": entry["portal_reference"]}
    if config.gateway_key is not None:
        headers["Authorization"] = f"Bearer {config.gateway_key}"
    if state.http is None:
        state.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=config.push_timeout_seconds))
    url = config.gateway_url.rstrip("/") + online.PUSH_PATH
    for attempt in range(1, config.push_attempts + 1):
        if attempt > 1:
            await asyncio.sleep(config.push_backoff_seconds * 2 ** (attempt - 2))
        entry["attempts"] = attempt
        try:
            async with state.http.post(url, data=raw, headers=headers) as answer:
                entry["status"], entry["answer"], entry["error"] = answer.status, _decoded(await answer.read()), None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            entry["status"], entry["answer"], entry["error"] = None, None, f"{type(exc).__name__}: {exc}"
            continue
        if entry["status"] < 500 and entry["status"] not in _RETRY_STATUSES:
            entry["state"] = "delivered" if 200 <= entry["status"] < 300 else "refused"
            return
    entry["state"] = "failed"


async def list_submitted(request: web.Request) -> web.Response:
    return web.json_response({"submitted": request.app[STATE].submitted})


async def _stop_pushes(app: web.Application) -> None:
    state = app[STATE]
    tasks = list(state.tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _close_http(app: web.Application) -> None:
    state = app[STATE]
    if state.http is not None:
        await state.http.close()
        state.http = None


def create_app(config: SimulatorConfig) -> web.Application:
    if not config.unit_code or config.max_batch < 1 or config.push_attempts < 1:
        raise ValueError("unit_code is required; max_batch and push_attempts are at least 1")
    app = web.Application(client_max_size=32 << 20)
    app[STATE] = _State(config, _Faults.of(config))
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/service", service)
    app.router.add_post("/_simulator/faults", set_faults)
    app.router.add_get("/_simulator/faults", get_faults)
    app.router.add_get("/_simulator/calls", get_calls)
    app.router.add_get("/_simulator/dossiers", list_dossiers)
    app.router.add_get("/_simulator/progress/{code}", get_progress)
    app.router.add_post("/_simulator/tamper", tamper)
    app.router.add_post("/_simulator/submit_online", submit_online)
    app.router.add_get("/_simulator/submitted", list_submitted)
    app.router.add_get("/files/{sha256}", serve_file)
    app.on_shutdown.append(_stop_pushes)
    app.on_cleanup.extend([_stop_pushes, _close_http])
    return app


async def start_portal_simulator(
    config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, str]:
    """Start on a real socket; returns the runner (await runner.cleanup() to stop: it cancels pushes under way and
    closes their HTTP session) and the base URL, no trailing slash (PortalConfig.url)."""
    runner = web.AppRunner(create_app(config), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, f"http://{host}:{runner.addresses[0][1]}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adapters.dvcqg.simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument("--username", default="motcua")
    parser.add_argument("--password", default="motcua-demo")
    parser.add_argument("--unit-code", default="000.00.00.H26")
    parser.add_argument("--gateway-url", default=None, help="e.g. http://127.0.0.1:8080 (pushes online dossiers)")
    parser.add_argument("--gateway-key", default=None, help="the gateway key of a client with role portal")
    parser.add_argument("--public-url", default=None, help="base URL of the file links pushed, as the gateway sees it")
    args = parser.parse_args(argv)
    config = SimulatorConfig(
        username=args.username,
        password=args.password,
        unit_code=args.unit_code,
        gateway_url=args.gateway_url,
        gateway_key=args.gateway_key,
        public_url=args.public_url,
    )
    with contextlib.suppress(KeyboardInterrupt):
        web.run_app(create_app(config), host=args.host, port=args.port, access_log=None)


if __name__ == "__main__":
    main()
