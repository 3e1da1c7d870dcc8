"""Pure build/parse pairs for the National Public Service Portal (DVCQG) one-stop sync API (online dossiers coming
the other way are in online.py). No I/O here: `client.py` sends what these build and hands back what they parse;
`simulator.py` speaks the other side with the same constants.

The protocol (vendor/README.md has the sources and the choices made where public material is silent):

- Login: POST `{"username", "password"}` → `{"error_code": 0, "message", "session"}`.
- Every service call: POST `{"session", "madonvi", "service", ...}` → `{"error_code", "message", ...}`, where
  `madonvi` is our system's code at the portal and `service` one of
  `DongBoHoSoMC` (`"isUpdating": "True"|"False"`, `"data": [dossier, ...]`),
  `CapNhatTienDoHoSoMC` (`"data": [progress row, ...]`),
  `TraCuuHoSo` (`"DanhSachMaHoSo": [...]`, or `"TuNgay"`/`"DenNgay"`) → `"result": [dossier held, ...]`.
- A batch answer carries one outcome per record, in the order sent: `"data": [{"MaHoSo", "error_code",
  "message"}, ...]`; some records may be accepted and others refused in the same answer.
- `error_code` 0 is success; it may come as a number or as digits ("0", "00"). An "already exists" refusal
  (3 or -3, or a message saying "đã tồn tại") means: send the same dossier again with isUpdating "True".
- Times are `yyyyMMddHHmmss`, Vietnam time (Asia/Ho_Chi_Minh, UTC+7, no daylight saving), whole seconds.
- Codes are sent as the portal's strings: KenhThucHien "1" counter, "2" online, "3" postal; LoaiDoiTuong "1"
  citizen, "2" business, "3" state agency, "4" other organisation; HinhThuc "0" result at the counter, "1" by post;
  TrangThaiHoSo "1"–"10" (status.py).

`parse_portal_time` raises ValueError on anything but 14 ASCII digits naming a real time: it serves both sides
(the simulator answers a bad request date with its format error, the client turns a bad answer date into
MalformedAnswer).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from adapters.dvcqg.errors import AlreadyExists, MalformedAnswer, PortalRejected, SessionRejected
from adapters.dvcqg.settings import PortalConfig
from adapters.dvcqg.status import is_status

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TIME_PATTERN = "yyyyMMddHHmmss"
_TIME = re.compile(r"[0-9]{14}")
_INTEGER = re.compile(r"-?[0-9]{1,9}")

SYNC, PROGRESS, LOOKUP = "DongBoHoSoMC", "CapNhatTienDoHoSoMC", "TraCuuHoSo"
SERVICES = (SYNC, PROGRESS, LOOKUP)

# error_code values. 0 and the already-exists pair are the portal's (public integrations test for them); the
# rest are this adapter's and its simulator's, chosen where no public source gives the portal's number.
OK = 0
LOGIN_REFUSED = 1  # wrong username or password
SESSION_INVALID = 2  # unknown or expired session: log in again
ALREADY_EXISTS = 3  # create of a MaHoSo the portal holds
NOT_FOUND = 4  # update (or progress, or look-up) of a MaHoSo the portal does not hold
MISSING_FIELD = 5
BAD_FORMAT = 6
BAD_TRANSITION = 7  # the status cannot move that way (status.py)
WRONG_UNIT = 8  # madonvi is not the unit of this account
BAD_REQUEST = 9  # not JSON, unknown service, data not a list, batch too large
RECORD_FAILED = 10  # the portal failed to store this record: send it again
ALREADY_EXISTS_CODES = frozenset({ALREADY_EXISTS, -ALREADY_EXISTS})
ALREADY_EXISTS_PHRASE = "đã tồn tại"

Channel = Literal["counter", "online", "postal"]
SubjectKind = Literal["citizen", "business", "agency", "organisation"]
ReturnMethod = Literal["counter", "postal"]
FeeKind = Literal["fee", "charge"]
CHANNELS: dict[str, str] = {"counter": "1", "online": "2", "postal": "3"}  # KenhThucHien
SUBJECT_KINDS: dict[str, str] = {"citizen": "1", "business": "2", "agency": "3", "organisation": "4"}  # LoaiDoiTuong
RETURN_METHODS: dict[str, str] = {"counter": "0", "postal": "1"}  # HinhThuc
FEE_KINDS: dict[str, str] = {"fee": "1", "charge": "2"}  # LoaiPhiLePhi: lệ phí (state fee), phí (charge)

# {agency electronic identifier}-{yyMMdd}-{NNNN}, e.g. 000.00.10.H26-260115-0001 (DESIGN §2).
DOSSIER_CODE = re.compile(r"(?P<agency>[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2})-(?P<day>[0-9]{6})-[0-9]{4}")


# Times.


def portal_time(moment: datetime) -> str:
    """`yyyyMMddHHmmss` in Vietnam time; fractions of a second are dropped (the portal keeps whole seconds). A
    naive datetime is refused: its instant is unknown."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("portal times are built from aware datetimes only")
    local = moment.astimezone(VN_TZ)
    return f"{local.year:04d}{local.month:02d}{local.day:02d}{local.hour:02d}{local.minute:02d}{local.second:02d}"


def parse_portal_time(text: str) -> datetime:
    """The aware Vietnam-time datetime of a `yyyyMMddHHmmss` string; ValueError unless it is exactly 14 ASCII
    digits naming a real date and time."""
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        raise ValueError(f"not {TIME_PATTERN}: {text!r}")
    parts = (int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]), int(text[12:14]))
    return datetime(*parts, tzinfo=VN_TZ)  # ValueError for month 13, 30 February, hour 24, second 60


def _optional_time(moment: datetime | None) -> str:
    return "" if moment is None else portal_time(moment)


def dossier_code_problem(code: str) -> str | None:
    """None for a well-formed dossier code, else why not, in Vietnamese."""
    match = DOSSIER_CODE.fullmatch(code) if isinstance(code, str) else None
    if match is not None:
        try:
            datetime.strptime(match["day"], "%y%m%d")
        except ValueError:
            match = None
    if match is None:
        return (
            f"Mã hồ sơ (MaHoSo) không đúng cấu trúc {{mã định danh cơ quan}}-{{yyMMdd}}-{{NNNN}}, "
            f"ví dụ 000.00.10.H26-260115-0001: {code!r}."
        )
    return None


# What we send: dossiers and progress rows, as plain typed values (not the gateway's rows).


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A component of the dossier as filed (TaiLieuNop), listed by its hash and where the portal can fetch it."""

    name: str
    sha256: str
    url: str
    component_code: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fee:
    name: str
    amount: int  # VND
    kind: FeeKind = "fee"
    code: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Supplement:
    """A supplement request (form 02) and, once it arrived, the supplement."""

    reference: str  # our identifier of the request
    requested_by: str
    content: str
    requested_at: datetime
    received_at: datetime | None = None
    appointment_before: datetime | None = None
    appointment_after: datetime | None = None  # the new appointment once the supplement arrived


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultDocument:
    name: str
    sha256: str
    url: str
    code: str = ""  # the result's code in the procedure catalog, when it has one


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierRecord:
    code: str  # MaHoSo: never changes once issued
    procedure_code: str  # MaTTHC, the national procedure code
    procedure_name: str
    sector_code: str  # MaLinhVuc
    channel: Channel
    owner_name: str
    owner_id_number: str
    subject_kind: SubjectKind = "citizen"
    received_at: datetime
    appointment_at: datetime | None
    status: int  # TrangThaiHoSo 1–10
    returned_at: datetime | None = None
    return_method: ReturnMethod = "counter"
    handling_unit: str  # DonViXuLy: the electronic identifier of the agency handling it
    documents: tuple[Document, ...] = ()
    fees: tuple[Fee, ...] = ()
    supplements: tuple[Supplement, ...] = ()
    results: tuple[ResultDocument, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressRow:
    """One step of the dossier's processing history (CapNhatTienDoHoSoMC)."""

    code: str
    officer: str
    title: str = ""
    at: datetime
    department: str = ""
    content: str
    status: int
    started_at: datetime | None = None
    due_at: datetime | None = None


def _code_of(table: Mapping[str, str], name: str, value: str) -> str:
    if value not in table:
        raise ValueError(f"{name} must be one of {sorted(table)}: {value!r}")
    return table[value]


def _status_text(status: int) -> str:
    if not is_status(status):
        raise ValueError(f"a status is a TrangThaiHoSo code 1–10: {status!r}")
    return str(status)


def dossier_fields(record: DossierRecord) -> dict[str, Any]:
    """One dossier of a DongBoHoSoMC request, field by field as the portal names them. Empty text stays empty: the
    portal, not this function, decides what is required (so its refusals reach the caller as they would live)."""
    return {
        "MaHoSo": record.code,
        "MaTTHC": record.procedure_code,
        "TenTTHC": record.procedure_name,
        "MaLinhVuc": record.sector_code,
        "KenhThucHien": _code_of(CHANNELS, "channel", record.channel),
        "ChuHoSo": record.owner_name,
        "LoaiDoiTuong": _code_of(SUBJECT_KINDS, "subject_kind", record.subject_kind),
        "SoGiayToChuHoSo": record.owner_id_number,
        "NgayTiepNhan": portal_time(record.received_at),
        "NgayHenTra": _optional_time(record.appointment_at),
        "TrangThaiHoSo": _status_text(record.status),
        "NgayTra": _optional_time(record.returned_at),
        "HinhThuc": _code_of(RETURN_METHODS, "return_method", record.return_method),
        "DonViXuLy": record.handling_unit,
        "TaiLieuNop": [
            {
                "TepDinhKemId": document.sha256,
                "TenTepDinhKem": document.name,
                "IsDeleted": "False",
                "MaThanhPhanHoSo": document.component_code,
                "DuongDanTaiTepTin": document.url,
            }
            for document in record.documents
        ],
        "DanhSachLePhi": [
            {
                "TenPhiLePhi": fee.name,
                "MaPhiLePhi": fee.code,
                "HinhThucThu": "1",
                "Gia": _amount_text(fee.amount),
                "LoaiPhiLePhi": _code_of(FEE_KINDS, "fee kind", fee.kind),
            }
            for fee in record.fees
        ],
        "DanhSachHoSoBoSung": [
            {
                "HoSoBoSungId": supplement.reference,
                "NguoiYeuCauBoSung": supplement.requested_by,
                "NoiDungBoSung": supplement.content,
                "NgayBoSung": portal_time(supplement.requested_at),
                "NgayTiepNhanBoSung": _optional_time(supplement.received_at),
                "TrangThaiBoSung": "1" if supplement.received_at is not None else "0",
                "NgayHenTraTruoc": _optional_time(supplement.appointment_before),
                "NgayHenTraMoi": _optional_time(supplement.appointment_after),
            }
            for supplement in record.supplements
        ],
        "DanhSachGiayToKetQua": [
            {
                "TenGiayTo": result.name,
                "MaGiayToKetQua": result.code,
                "GiayToId": result.sha256,
                "DuongDanTepTinKetQua": result.url,
            }
            for result in record.results
        ],
    }


def _amount_text(amount: int) -> str:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(f"a fee is a whole, non-negative number of VND: {amount!r}")
    return str(amount)


def progress_fields(row: ProgressRow) -> dict[str, str]:
    return {
        "MaHoSo": row.code,
        "NguoiXuLy": row.officer,
        "ChucDanh": row.title,
        "ThoiDiemXuLy": portal_time(row.at),
        "PhongBanXuLy": row.department,
        "NoiDungXuLy": row.content,
        "TrangThai": _status_text(row.status),
        "NgayBatDau": _optional_time(row.started_at),
        "NgayKetThucTheoQuyDinh": _optional_time(row.due_at),
    }


def login_request(config: PortalConfig) -> dict[str, str]:
    return {"username": config.username, "password": config.password}


def _batch(items: Sequence[Any], config: PortalConfig, what: str) -> None:
    if not items:
        raise ValueError(f"a request carries at least one {what}")
    if len(items) > config.batch_size:
        raise ValueError(f"at most {config.batch_size} {what}s per request (batch_size), not {len(items)}")


def sync_request(records: Sequence[DossierRecord], *, updating: bool, config: PortalConfig) -> dict[str, Any]:
    """A DongBoHoSoMC request (without the session, which the client adds): creates when `updating` is false, else
    updates. isUpdating travels as the strings "True"/"False", as the portal's integrators send it."""
    _batch(records, config, "dossier")
    return {
        "service": SYNC,
        "madonvi": config.unit_code,
        "isUpdating": "True" if updating else "False",
        "data": [dossier_fields(record) for record in records],
    }


def progress_request(rows: Sequence[ProgressRow], config: PortalConfig) -> dict[str, Any]:
    """A CapNhatTienDoHoSoMC request: progress rows, in the order they happened."""
    _batch(rows, config, "progress row")
    return {"service": PROGRESS, "madonvi": config.unit_code, "data": [progress_fields(row) for row in rows]}


def lookup_request(
    codes: Sequence[str] | None = None,
    *,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    config: PortalConfig,
) -> dict[str, Any]:
    """A TraCuuHoSo request: either by dossier codes, or by the period of NgayTiepNhan [from, to), not both."""
    body: dict[str, Any] = {"service": LOOKUP, "madonvi": config.unit_code}
    period = received_from is not None or received_to is not None
    if (codes is None) == (not period):
        raise ValueError("look up either by codes or by a received_from/received_to period")
    if codes is not None:
        if isinstance(codes, str):
            raise ValueError("codes is a sequence of dossier codes, not one string")
        _batch(codes, config, "dossier code")
        body["DanhSachMaHoSo"] = list(codes)
        return body
    if received_from is None or received_to is None or received_to <= received_from:
        raise ValueError("a period needs received_from < received_to")
    body["TuNgay"], body["DenNgay"] = portal_time(received_from), portal_time(received_to)
    return body


# What comes back.


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """The portal's answer about one record of a batch."""

    code: str  # MaHoSo
    error_code: int
    message: str

    @property
    def already_exists(self) -> bool:
        return is_already_exists(self.error_code, self.message)

    @property
    def accepted(self) -> bool:
        return self.error_code == OK and not self.already_exists

    def error(self) -> PortalRejected | None:
        """None when accepted, else the exception to raise for this record (AlreadyExists when it is one)."""
        return None if self.accepted else rejection(self.error_code, self.message)


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """Per-record outcomes of one or more batches, in the order the records were given."""

    outcomes: tuple[RecordOutcome, ...] = ()

    @property
    def accepted(self) -> tuple[str, ...]:
        return tuple(outcome.code for outcome in self.outcomes if outcome.accepted)

    @property
    def already_exists(self) -> tuple[str, ...]:
        return tuple(outcome.code for outcome in self.outcomes if outcome.already_exists)

    @property
    def rejected(self) -> tuple[RecordOutcome, ...]:
        """Refused for another reason than "already exists": these need a look, not an update."""
        return tuple(o for o in self.outcomes if not o.accepted and not o.already_exists)

    @property
    def all_accepted(self) -> bool:
        return all(outcome.accepted for outcome in self.outcomes)

    def __add__(self, other: "BatchOutcome") -> "BatchOutcome":
        return BatchOutcome(self.outcomes + other.outcomes)


@dataclass(frozen=True, slots=True)
class Answer:
    """Any service answer: its overall code and message, and the per-record outcomes when it has them."""

    error_code: int
    message: str
    outcomes: tuple[RecordOutcome, ...] | None = None


@dataclass(frozen=True, slots=True)
class PortalDossier:
    """What the portal holds about one of our dossiers (TraCuuHoSo), for reconciliation."""

    code: str
    procedure_code: str | None
    status: int
    received_at: datetime
    appointment_at: datetime | None
    returned_at: datetime | None
    progress_count: int


def is_already_exists(error_code: int, message: str) -> bool:
    return error_code in ALREADY_EXISTS_CODES or ALREADY_EXISTS_PHRASE in message.casefold()


def rejection(error_code: int, message: str) -> PortalRejected:
    """The exception for a refusal: AlreadyExists when the portal says so, else PortalRejected."""
    kind = AlreadyExists if is_already_exists(error_code, message) else PortalRejected
    return kind(error_code, message)


def _error_code(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**9:
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    raise MalformedAnswer(f"error_code must be a whole number: {value!r}")


def _message(body: Mapping[str, Any]) -> str:
    message = body.get("message", "")
    if message is None:
        return ""
    if not isinstance(message, str):
        raise MalformedAnswer("message must be text")
    return message


def parse_answer(body: Any) -> Answer:
    """The overall error_code and message of any answer, and its per-record `data` outcomes when present."""
    if not isinstance(body, dict):
        raise MalformedAnswer("an answer is a JSON object")
    if "error_code" not in body:
        raise MalformedAnswer("an answer carries an error_code")
    error_code, message = _error_code(body["error_code"]), _message(body)
    data = body.get("data")
    if data is None:
        return Answer(error_code, message)
    if not isinstance(data, list):
        raise MalformedAnswer("per-record outcomes (data) must be a list")
    outcomes = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("MaHoSo"), str) or "error_code" not in item:
            raise MalformedAnswer("each outcome is an object with MaHoSo and error_code")
        outcomes.append(RecordOutcome(item["MaHoSo"], _error_code(item["error_code"]), _message(item)))
    return Answer(error_code, message, tuple(outcomes))


def batch_outcome(answer: Answer, codes: Sequence[str]) -> BatchOutcome:
    """The outcome of every record sent (`codes`, in order) from a batch answer.

    With per-record outcomes, they must name the records sent, in order. Without them, error_code 0 means every
    record was accepted; an "already exists" about a single record is that record's outcome (public integrations
    send one dossier per call and get exactly this); any other refusal concerns the request as a whole and raises.
    """
    if answer.outcomes is not None:
        if tuple(outcome.code for outcome in answer.outcomes) != tuple(codes):
            raise MalformedAnswer("the per-record outcomes do not name the records sent, in order")
        return BatchOutcome(answer.outcomes)
    if answer.error_code == OK and not is_already_exists(answer.error_code, answer.message):
        return BatchOutcome(tuple(RecordOutcome(code, OK, answer.message) for code in codes))
    if len(codes) == 1 and is_already_exists(answer.error_code, answer.message):
        return BatchOutcome((RecordOutcome(codes[0], answer.error_code, answer.message),))
    raise rejection(answer.error_code, answer.message)


def parse_login(body: Any) -> str:
    """The session of a login answer; SessionRejected when the portal refused the credentials."""
    answer = parse_answer(body)
    if answer.error_code != OK:
        raise SessionRejected(answer.error_code, answer.message)
    session = body.get("session")
    if not isinstance(session, str) or not session or not session.isprintable() or len(session) > 4096:
        raise MalformedAnswer("the login answer has no session")
    return session


def _answer_time(item: Mapping[str, Any], key: str, *, required: bool) -> datetime | None:
    value = item.get(key)
    if value in (None, "") and not required:
        return None
    try:
        return parse_portal_time(value)
    except ValueError as exc:
        raise MalformedAnswer(f"{key} must be {TIME_PATTERN}: {value!r}") from exc


def _status_code(value: Any) -> int:
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        value = int(value)
    if not is_status(value):
        raise MalformedAnswer(f"TrangThaiHoSo must be a status code 1–10: {value!r}")
    return value


def parse_lookup(body: Any) -> list[PortalDossier]:
    """The dossiers a TraCuuHoSo answer lists; PortalRejected when the look-up itself was refused."""
    answer = parse_answer(body)
    if answer.error_code != OK:
        raise rejection(answer.error_code, answer.message)
    result = body.get("result")
    if not isinstance(result, list):
        raise MalformedAnswer("a look-up answer carries its result as a list")
    dossiers = []
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("MaHoSo"), str) or not item["MaHoSo"]:
            raise MalformedAnswer("each dossier held is an object with its MaHoSo")
        count = item.get("SoBanGhiTienDo", 0)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise MalformedAnswer("SoBanGhiTienDo must be a count")
        procedure = item.get("MaTTHC")
        if procedure is not None and not isinstance(procedure, str):
            raise MalformedAnswer("MaTTHC must be text")
        received_at = _answer_time(item, "NgayTiepNhan", required=True)
        assert received_at is not None
        dossiers.append(
            PortalDossier(
                code=item["MaHoSo"],
                procedure_code=procedure or None,
                status=_status_code(item.get("TrangThaiHoSo")),
                received_at=received_at,
                appointment_at=_answer_time(item, "NgayHenTra", required=False),
                returned_at=_answer_time(item, "NgayTra", required=False),
                progress_count=count,
            )
        )
    return dossiers
