"""Online dossiers: filed by a citizen on the National Public Service Portal, pushed by the portal to the gateway.

Two shapes, both pure functions here:

- the portal's own form (Vietnamese field names, vendor/online-submission.json), which the simulator's control
  endpoint takes, parsed by `parse_portal_submission`;
- the push the portal sends to the gateway, `POST /v1/portal/dossiers` with `Authorization: Bearer <key>` and
  `Idempotency-Key: <portal_reference>` (vendor/online-push.json, vendor/README.md), built by
  `online_dossier_body` and parsed back by `parse_online_dossier`. Its applicant, documents and return method
  follow the gateway's intake models (gateway/schemas.py: Applicant, UnitRef, Document, ReturnMethod); each
  document adds the `url` the gateway fetches the file from, and there is no channel: a push is always `online`.

Errors are ValueError with a message naming the first thing wrong (in Vietnamese where a person filing or testing
reads it).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from adapters.dvcqg.messages import TIME_PATTERN, ReturnMethod, parse_portal_time, portal_time

_DATE = re.compile(r"[0-9]{8}")
_YEAR = re.compile(r"[0-9]{4}")
PUSH_PATH = "/v1/portal/dossiers"


@dataclass(frozen=True, slots=True, kw_only=True)
class OnlineAddress:
    unit_code: str  # 2025 commune code
    address_line: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OnlineApplicant:
    id_number: str
    full_name: str
    date_of_birth: date | None = None
    birth_year: int | None = None  # when the register has the year only
    phone: str
    residence: OnlineAddress


@dataclass(frozen=True, slots=True, kw_only=True)
class OnlineDocument:
    component_code: str
    name: str
    sha256: str
    size: int
    media_type: str
    url: str  # where the gateway fetches the file from the portal


@dataclass(frozen=True, slots=True, kw_only=True)
class OnlineReturn:
    method: ReturnMethod
    recipient_name: str = ""
    phone: str = ""
    address: OnlineAddress | None = None  # for postal return


@dataclass(frozen=True, slots=True, kw_only=True)
class OnlineDossier:
    portal_reference: str  # the portal's own reference: the Idempotency-Key of the push
    procedure_code: str
    applicant: OnlineApplicant
    documents: tuple[OnlineDocument, ...] = ()
    return_method: OnlineReturn
    submitted_at: datetime


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} phải là một đối tượng JSON.")
    return value


def _text(body: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"Thiếu thông tin bắt buộc hoặc sai kiểu: {where}.{key}.")
    return value.strip()


def _birth(text: str, where: str) -> tuple[date | None, int | None]:
    """yyyyMMdd (full date) or yyyy (year only), as the portal's forms give a date of birth."""
    if _DATE.fullmatch(text):
        try:
            return datetime.strptime(text, "%Y%m%d").date(), None
        except ValueError:
            pass
    elif _YEAR.fullmatch(text):
        return None, int(text)
    raise ValueError(f"{where} phải có dạng yyyyMMdd hoặc yyyy (chỉ năm sinh): {text!r}.")


def _portal_address(body: Any, where: str) -> OnlineAddress:
    body = _object(body, where)
    return OnlineAddress(unit_code=_text(body, "MaXa", where), address_line=_text(body, "DiaChi", where))


def parse_portal_submission(body: Any, *, reference: str, now: datetime) -> OnlineDossier:
    """An online dossier as the portal's form holds it (Vietnamese field names, see vendor/online-submission.json)
    → OnlineDossier. `reference` is used when the form has no MaHoSoQG, `now` when it has no NgayNopHoSo.
    ValueError, in Vietnamese, names the first thing wrong."""
    body = _object(body, "Hồ sơ trực tuyến")
    owner = _object(body.get("ChuHoSo"), "ChuHoSo")
    birth = _text(owner, "NgaySinh", "ChuHoSo")
    date_of_birth, birth_year = _birth(birth, "ChuHoSo.NgaySinh")
    submitted = body.get("NgayNopHoSo")
    if submitted is None:
        submitted_at = now
    else:
        try:
            submitted_at = parse_portal_time(submitted)
        except ValueError:
            raise ValueError(f"NgayNopHoSo phải có dạng {TIME_PATTERN} (giờ Việt Nam): {submitted!r}.") from None
    documents = body.get("TaiLieuNop", [])
    if not isinstance(documents, list):
        raise ValueError("TaiLieuNop phải là một danh sách.")
    files = []
    for index, item in enumerate(documents, start=1):
        where = f"TaiLieuNop[{index}]"
        item = _object(item, where)
        size = item.get("KichThuoc")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"{where}.KichThuoc phải là số byte dương.")
        files.append(
            OnlineDocument(
                component_code=_text(item, "MaThanhPhanHoSo", where),
                name=_text(item, "TenTepDinhKem", where),
                sha256=_text(item, "MaBam", where).lower(),
                size=size,
                media_type=_text(item, "LoaiTep", where),
                url=_text(item, "DuongDanTaiTepTin", where),
            )
        )
    delivery = _object(body.get("HinhThucNhanKetQua"), "HinhThucNhanKetQua")
    chosen = delivery.get("HinhThuc")
    method = {"0": "counter", "1": "postal"}.get(chosen) if isinstance(chosen, str) else None
    if method == "postal":
        return_method = OnlineReturn(
            method="postal",
            recipient_name=_text(delivery, "NguoiNhan", "HinhThucNhanKetQua"),
            phone=_text(delivery, "SoDienThoai", "HinhThucNhanKetQua"),
            address=_portal_address(delivery.get("DiaChiNhan"), "HinhThucNhanKetQua.DiaChiNhan"),
        )
    elif method == "counter":
        return_method = OnlineReturn(method="counter")
    else:
        raise ValueError("HinhThucNhanKetQua.HinhThuc phải là '0' (nhận tại bộ phận một cửa) hoặc '1' (qua bưu chính).")
    return OnlineDossier(
        portal_reference=_text(body, "MaHoSoQG", "Hồ sơ trực tuyến", required=False) or reference,
        procedure_code=_text(body, "MaTTHC", "Hồ sơ trực tuyến"),
        applicant=OnlineApplicant(
            id_number=_text(owner, "SoDinhDanh", "ChuHoSo"),
            full_name=_text(owner, "HoVaTen", "ChuHoSo"),
            date_of_birth=date_of_birth,
            birth_year=birth_year,
            phone=_text(owner, "SoDienThoai", "ChuHoSo"),
            residence=_portal_address(owner.get("NoiCuTru"), "ChuHoSo.NoiCuTru"),
        ),
        documents=tuple(files),
        return_method=return_method,
        submitted_at=submitted_at,
    )


def _address_body(address: OnlineAddress) -> dict[str, str]:
    return {"unit_code": address.unit_code, "address_line": address.address_line}


def online_dossier_body(dossier: OnlineDossier) -> dict[str, Any]:
    """The JSON the portal POSTs to the gateway (vendor/online-push.json; shaped like the gateway's intake)."""
    applicant = dossier.applicant
    person: dict[str, Any] = {"id_number": applicant.id_number, "full_name": applicant.full_name}
    if applicant.date_of_birth is not None:
        person["date_of_birth"] = applicant.date_of_birth.isoformat()
    else:
        person["birth_year"] = applicant.birth_year
    person["phone"] = applicant.phone
    person["residence"] = _address_body(applicant.residence)
    delivery = dossier.return_method
    if delivery.method == "postal":
        assert delivery.address is not None
        return_method: dict[str, Any] = {
            "type": "postal",
            "recipient_name": delivery.recipient_name,
            "phone": delivery.phone,
            "address": _address_body(delivery.address),
        }
    else:
        return_method = {"type": "counter"}
    return {
        "portal_reference": dossier.portal_reference,
        "procedure_code": dossier.procedure_code,
        "applicant": person,
        "documents": [
            {
                "component_code": document.component_code,
                "name": document.name,
                "sha256": document.sha256,
                "size": document.size,
                "media_type": document.media_type,
                "url": document.url,
            }
            for document in dossier.documents
        ],
        "return_method": return_method,
        "submitted_at": portal_time(dossier.submitted_at),
    }


def _field(body: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = body.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{where}.{key} is missing or not {kind.__name__}")
    return value


def _address(body: Any, where: str) -> OnlineAddress:
    body = _object(body, where)
    return OnlineAddress(
        unit_code=_field(body, "unit_code", str, where), address_line=_field(body, "address_line", str, where)
    )


def parse_online_dossier(body: Any) -> OnlineDossier:
    """The inverse of `online_dossier_body`, for whoever receives the push and for the vendor sample. It checks the
    shape only; the gateway still validates the content as it validates any intake."""
    body = _object(body, "push")
    person = _object(body.get("applicant"), "applicant")
    birth_date = person.get("date_of_birth")
    try:
        date_of_birth = date.fromisoformat(birth_date) if isinstance(birth_date, str) else None
        submitted_at = parse_portal_time(body.get("submitted_at"))  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValueError(f"date_of_birth is YYYY-MM-DD and submitted_at {TIME_PATTERN}: {exc}") from None
    birth_year = person.get("birth_year")
    if (date_of_birth is None) == (birth_year is None):
        raise ValueError("applicant has exactly one of date_of_birth and birth_year")
    delivery = _object(body.get("return_method"), "return_method")
    if delivery.get("type") == "postal":
        return_method = OnlineReturn(
            method="postal",
            recipient_name=_field(delivery, "recipient_name", str, "return_method"),
            phone=_field(delivery, "phone", str, "return_method"),
            address=_address(delivery.get("address"), "return_method.address"),
        )
    elif delivery.get("type") == "counter":
        return_method = OnlineReturn(method="counter")
    else:
        raise ValueError("return_method.type is counter or postal")
    documents = body.get("documents")
    if not isinstance(documents, list):
        raise ValueError("documents is a list")
    return OnlineDossier(
        portal_reference=_field(body, "portal_reference", str, "push"),
        procedure_code=_field(body, "procedure_code", str, "push"),
        applicant=OnlineApplicant(
            id_number=_field(person, "id_number", str, "applicant"),
            full_name=_field(person, "full_name", str, "applicant"),
            date_of_birth=date_of_birth,
            birth_year=None if birth_year is None else _field(person, "birth_year", int, "applicant"),
            phone=_field(person, "phone", str, "applicant"),
            residence=_address(person.get("residence"), "applicant.residence"),
        ),
        documents=tuple(
            OnlineDocument(
                component_code=_field(item, "component_code", str, "document"),
                name=_field(item, "name", str, "document"),
                sha256=_field(item, "sha256", str, "document"),
                size=_field(item, "size", int, "document"),
                media_type=_field(item, "media_type", str, "document"),
                url=_field(item, "url", str, "document"),
            )
            for item in (_object(each, "document") for each in documents)
        ),
        return_method=return_method,
        submitted_at=submitted_at,
    )
