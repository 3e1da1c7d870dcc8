"""Pure build/parse pairs for the population-database SOAP messages (no I/O, no signing).

The client sends requests through zeep (`request_fields` gives the operation's arguments); answers are
parsed here from the *verified* envelope (see identity.signing). The simulator uses the same module
to read requests and write answers, so both ends agree on one description of the wire.
"""

import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Literal

from lxml import etree

from identity.errors import MalformedAnswer, ReplayedAnswer, StaleAnswer
from identity.model import CitizenQuery, CitizenRecord, RegisterAnswer, Sex
from identity.signing import SOAP_ENV

TNS = "http://csdl.dancu.gov.vn/dvc/v1"
_NS = {"soap": SOAP_ENV, "t": TNS}

Operation = Literal["XacThucThongTinCongDan", "TraCuuThongTinCongDan", "Ping"]
OPERATIONS: tuple[Operation, ...] = ("XacThucThongTinCongDan", "TraCuuThongTinCongDan", "Ping")
_SEX_TO_WIRE: dict[str, str] = {"male": "Nam", "female": "Nữ"}
_SEX_FROM_WIRE: dict[str, Sex] = {"Nam": "male", "Nữ": "female"}
_BIRTH = re.compile(r"([0-9]{4})(?:-([0-9]{2})-([0-9]{2}))?")


class MalformedRequest(ValueError):
    """A request the simulator cannot read (it answers with a soap:Client fault)."""


# --- birth dates -------------------------------------------------------------------------------------


def format_birth(birth_date: date | None, birth_year: int | None) -> str:
    """NgayThangNamSinh: yyyy-MM-dd, or yyyy when only the year is known."""
    if birth_date is not None:
        return birth_date.isoformat()
    if birth_year is None:
        raise ValueError("a birth date or a birth year is needed")
    return f"{birth_year:04d}"


def parse_birth(text: str) -> tuple[date | None, int]:
    """(date, year) from NgayThangNamSinh; date is None for a year-only registration. ValueError if neither."""
    match = _BIRTH.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"NgayThangNamSinh {text!r} is neither yyyy-MM-dd nor yyyy")
    year, month, day = match.groups()
    if month is None:
        return None, int(year)
    return date(int(year), int(month), int(day)), int(year)


# --- requests ----------------------------------------------------------------------------------------


def request_fields(query: CitizenQuery) -> dict[str, str]:
    """The arguments of XacThucThongTinCongDan / TraCuuThongTinCongDan, in WSDL order (SoCMND only if known)."""
    fields = {
        "MaYeuCau": query.request_id,
        "MaDVC": query.service_code,
        "MaCanBo": query.officer,
        "MaDonVi": query.unit,
        "SoDinhDanh": query.id_number,
    }
    if query.cmnd_number:
        fields["SoCMND"] = query.cmnd_number
    fields["HoVaTen"] = query.full_name
    fields["NgayThangNamSinh"] = format_birth(query.birth_date, query.birth_year)
    return fields


def _envelope(payload: etree._Element) -> etree._Element:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "dc": TNS})
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Header")
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(payload)
    return envelope


def _add(parent: etree._Element, name: str, text: str) -> etree._Element:
    child = etree.SubElement(parent, f"{{{TNS}}}{name}")
    child.text = text
    return child


def build_request(operation: Operation, query: CitizenQuery) -> etree._Element:
    """An unsigned request envelope, as zeep would send it (used by the simulator's tests and samples)."""
    payload = etree.Element(f"{{{TNS}}}{operation}")
    if operation == "Ping":
        _add(payload, "MaYeuCau", query.request_id)
    else:
        for name, value in request_fields(query).items():
            _add(payload, name, value)
    return _envelope(payload)


def _payload(envelope: etree._Element) -> etree._Element:
    body = envelope.find("soap:Body", _NS)
    if body is None or len(body) != 1:
        raise ValueError("the SOAP Body must hold exactly one element")
    return body[0]


def _text(parent: etree._Element, name: str, *, required: bool = True) -> str | None:
    child = parent.find(f"t:{name}", _NS)
    if child is None or not (child.text or "").strip():
        if required:
            raise ValueError(f"{name} is missing")
        return None
    return child.text.strip()


def parse_request(envelope: etree._Element) -> tuple[Operation, CitizenQuery]:
    """The operation and the query of a request envelope (for Ping, only request_id is meaningful)."""
    try:
        payload = _payload(envelope)
        name = etree.QName(payload).localname
        if etree.QName(payload).namespace != TNS or name not in OPERATIONS:
            raise ValueError(f"unknown operation {payload.tag}")
        operation: Operation = name  # type: ignore[assignment]
        request_id = _text(payload, "MaYeuCau")
        assert request_id is not None
        if operation == "Ping":
            return operation, CitizenQuery(request_id, "", "", None, None, "", "", "")
        birth_date, birth_year = parse_birth(_text(payload, "NgayThangNamSinh") or "")
        return operation, CitizenQuery(
            request_id=request_id,
            id_number=_text(payload, "SoDinhDanh") or "",
            full_name=_text(payload, "HoVaTen") or "",
            birth_date=birth_date,
            birth_year=birth_year,
            officer=_text(payload, "MaCanBo") or "",
            unit=_text(payload, "MaDonVi") or "",
            service_code=_text(payload, "MaDVC") or "",
            cmnd_number=_text(payload, "SoCMND", required=False),
        )
    except ValueError as exc:
        raise MalformedRequest(str(exc)) from exc


# --- answers -----------------------------------------------------------------------------------------


def format_timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("ThoiGian needs a time zone")
    return moment.isoformat(timespec="seconds")


def build_answer(
    operation: Operation, request_id: str, answered_at: datetime, record: CitizenRecord | None = None
) -> etree._Element:
    """An unsigned answer envelope; `record` None means not found (TonTai false)."""
    payload = etree.Element(f"{{{TNS}}}{operation}Response")
    _add(payload, "MaYeuCau", request_id)
    _add(payload, "ThoiGian", format_timestamp(answered_at))
    if operation == "Ping":
        return _envelope(payload)
    _add(payload, "TonTai", "true" if record is not None else "false")
    if operation == "TraCuuThongTinCongDan" and record is not None:
        citizen = etree.SubElement(payload, f"{{{TNS}}}CongDan")
        _add(citizen, "SoDinhDanh", record.id_number)
        if record.cmnd_number:
            _add(citizen, "SoCMND", record.cmnd_number)
        _add(citizen, "HoVaTen", record.full_name)
        _add(citizen, "NgayThangNamSinh", format_birth(record.birth_date, record.birth_year))
        _add(citizen, "GioiTinh", _SEX_TO_WIRE[record.sex])
        residence = etree.SubElement(citizen, f"{{{TNS}}}NoiThuongTru")
        _add(residence, "MaXaCu", record.residence_legacy_ward or "")
        _add(residence, "DiaChi", record.residence_address or "")
    return _envelope(payload)


def build_fault(code: Literal["Client", "Server"], message: str) -> etree._Element:
    """A SOAP 1.1 fault envelope (sent with HTTP 500)."""
    fault = etree.Element(f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = message
    return _envelope(fault)


def _timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"ThoiGian {text!r} has no time zone")
    return moment


def _boolean(text: str) -> bool:
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"TonTai {text!r} is not an xsd:boolean")


def _record(citizen: etree._Element) -> CitizenRecord:
    birth_date, birth_year = parse_birth(_text(citizen, "NgayThangNamSinh") or "")
    sex = _SEX_FROM_WIRE.get(unicodedata.normalize("NFC", _text(citizen, "GioiTinh") or ""))
    if sex is None:
        raise ValueError("GioiTinh is neither Nam nor Nữ")
    residence = citizen.find("t:NoiThuongTru", _NS)
    if residence is None:
        raise ValueError("NoiThuongTru is missing")
    return CitizenRecord(
        id_number=_text(citizen, "SoDinhDanh") or "",
        full_name=unicodedata.normalize("NFC", _text(citizen, "HoVaTen") or ""),
        birth_date=birth_date,
        birth_year=birth_year,
        sex=sex,
        residence_legacy_ward=_text(residence, "MaXaCu", required=False),
        residence_address=_text(residence, "DiaChi", required=False),
        cmnd_number=_text(citizen, "SoCMND", required=False),
    )


def parse_answer(envelope: etree._Element, signed_xml: bytes) -> RegisterAnswer:
    """A XacThucThongTinCongDan or TraCuuThongTinCongDan answer from its (verified) envelope; MalformedAnswer
    when anything the WSDL promises is missing or wrong. `signed_xml` is kept as evidence."""
    try:
        payload = _payload(envelope)
        operation = etree.QName(payload).localname.removesuffix("Response")
        if etree.QName(payload).namespace != TNS or operation not in OPERATIONS[:2]:
            raise ValueError(f"unexpected answer element {payload.tag}")
        found = _boolean(_text(payload, "TonTai") or "")
        citizen = payload.find("t:CongDan", _NS)
        record = _record(citizen) if citizen is not None else None
        if operation == "TraCuuThongTinCongDan" and found != (record is not None):
            raise ValueError("TonTai and CongDan disagree")
        return RegisterAnswer(
            request_id=_text(payload, "MaYeuCau") or "",
            answered_at=_timestamp(_text(payload, "ThoiGian") or ""),
            found=found,
            record=record,
            signed_xml=signed_xml,
        )
    except ValueError as exc:
        raise MalformedAnswer(f"answer not as the WSDL promises: {exc}") from exc


def parse_ping(envelope: etree._Element) -> tuple[str, datetime]:
    """(MaYeuCau, ThoiGian) of a PingResponse."""
    try:
        payload = _payload(envelope)
        if payload.tag != f"{{{TNS}}}PingResponse":
            raise ValueError(f"unexpected answer element {payload.tag}")
        return _text(payload, "MaYeuCau") or "", _timestamp(_text(payload, "ThoiGian") or "")
    except ValueError as exc:
        raise MalformedAnswer(f"answer not as the WSDL promises: {exc}") from exc


def check_fresh(
    request_id: str, answered_at: datetime, *, expected_id: str, now: datetime, freshness: timedelta
) -> None:
    """ReplayedAnswer unless the answer echoes our request id; StaleAnswer unless its time is within `freshness`."""
    if request_id != expected_id:
        raise ReplayedAnswer(f"the answer echoes request id {request_id!r}, not the one we sent")
    if abs(now - answered_at) > freshness:
        raise StaleAnswer(f"the answer is timestamped {answered_at.isoformat()}, outside the freshness window")
