"""What the gateway asks the population database and what it gets back, independent of SOAP."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

Sex = Literal["male", "female"]


@dataclass(frozen=True, slots=True)
class CitizenQuery:
    """One look-up, with the audit fields the national service requires."""

    request_id: str  # MaYeuCau: fresh per call, echoed by the answer
    id_number: str  # SoDinhDanh (12 digits)
    full_name: str  # HoVaTen as submitted
    birth_date: date | None  # NgayThangNamSinh: full date ...
    birth_year: int | None  # ... or the year only
    officer: str  # MaCanBo: who asks (the client organisation / key)
    unit: str  # MaDonVi: the asking unit
    service_code: str  # MaDVC
    cmnd_number: str | None = None  # SoCMND: old 9-digit number, secondary identifier only


@dataclass(frozen=True, slots=True)
class CitizenRecord:
    """The register's record (TraCuuThongTinCongDan)."""

    id_number: str
    full_name: str
    birth_date: date | None
    birth_year: int  # always known; birth_date None when the register has the year only
    sex: Sex
    residence_legacy_ward: str | None  # residence with legacy unit codes, as the register keeps them
    residence_address: str | None
    cmnd_number: str | None = None


@dataclass(frozen=True, slots=True)
class RegisterAnswer:
    """A verified answer: its signature checked, its request id ours, its timestamp fresh."""

    request_id: str
    answered_at: datetime
    found: bool  # TonTai
    record: CitizenRecord | None  # None when not found
    signed_xml: bytes  # the whole signed answer, kept as evidence


class PopulationRegister(Protocol):
    """The population database as the gateway sees it; identity.client.SoapPopulationRegister is the real one.
    Raises only identity.errors.IdentityError subclasses."""

    async def look_up(self, query: CitizenQuery) -> RegisterAnswer: ...

    async def close(self) -> None: ...
