"""Request and answer models of the HTTP API (pydantic); the OpenAPI document is built from them.

Requests forbid unknown fields. Messages a user reads are Vietnamese; `type` codes are stable.
"""

from datetime import date
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from adapters.dvcqg.messages import TIME_PATTERN, parse_portal_time
from adapters.postal.s10 import s10_problem
from gateway.workflow.lifecycle import AGENCY_EVENTS
from identity.id_number import birth_year_problem
from identity.rules import cmnd_problem

PHONE_PATTERN = r"^(0|\+84)[0-9]{9}$"  # [0-9], not \d: no other scripts' digits
MAX_AMOUNT_VND = 10**12  # far above any state fee; keeps sums well inside bigint
MEDIA_TYPES = Literal["application/pdf", "image/jpeg", "image/png"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL cannot store U+0000 in text or jsonb.
        if isinstance(value, str) and "\x00" in value:
            raise PydanticCustomError("string.nul_character", "Giá trị không được chứa ký tự NUL (\\u0000).")
        return value


class UnitRef(Strict):
    unit_code: str = Field(min_length=1, max_length=20, description="Commune code in the given code system")
    code_system: Literal["2025", "legacy"] = Field(
        default="2025", description="`2025`: codes since 1 July 2025; `legacy`: pre-2025 codes"
    )
    address_line: str = Field(min_length=1, max_length=300, description="House number, street, hamlet")
    new_commune_code: str | None = Field(
        default=None,
        pattern=r"^[0-9]{5}$",
        description="For a legacy ward split over several communes: the new (2025) commune it now belongs to",
    )


class Applicant(Strict):
    id_number: str = Field(pattern=r"^[0-9]{12}$", description="Personal identification number, 12 digits")
    full_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date | None = None
    birth_year: int | None = Field(default=None, ge=1900, le=2100, description="When only the year is known")
    sex: Literal["male", "female"] | None = None
    phone: str = Field(pattern=PHONE_PATTERN)
    cmnd_number: str | None = Field(
        default=None, description="Old 9-digit CMND number: a secondary identifier only, never instead of id_number"
    )
    residence: UnitRef
    name_match_confirmed: bool = Field(
        default=False,
        description="The officer checked the papers: the name matches the population register only without "
        "diacritics (e.g. typed without them), and is confirmed",
    )

    @model_validator(mode="after")
    def _birth_matches_id(self) -> "Applicant":
        if (self.date_of_birth is None) == (self.birth_year is None):
            raise PydanticCustomError(
                "applicant.birth", "Cần khai đúng một trong hai: ngày sinh (date_of_birth) hoặc năm sinh (birth_year)."
            )
        if self.cmnd_number is not None and (problem := cmnd_problem(self.cmnd_number)):
            raise PydanticCustomError("applicant.cmnd_number", problem)
        year = self.date_of_birth.year if self.date_of_birth else self.birth_year
        problem = birth_year_problem(self.id_number, year or 0)
        if problem:
            raise PydanticCustomError("applicant.id_number_mismatch", problem)
        if self.sex is not None and (int(self.id_number[3]) % 2 == 1) != (self.sex == "female"):
            raise PydanticCustomError(
                "applicant.id_number_mismatch", "Giới tính đã khai không khớp với số định danh cá nhân."
            )
        return self


class PostalChannel(Strict):
    type: Literal["postal"]
    post_office_code: str = Field(pattern=r"^[0-9]{6}$", description="Postal code of the receiving post office")
    item_number: str = Field(description="S10 number of the sealed paper dossier, e.g. EE123456785VN")

    @model_validator(mode="after")
    def _valid_s10(self) -> "PostalChannel":
        problem = s10_problem(self.item_number)
        if problem:
            raise PydanticCustomError("channel.item_number", problem)
        return self


class CounterChannel(Strict):
    type: Literal["counter"]
    unit_code: str = Field(pattern=r"^[0-9]{5}$", description="The counter's own commune code (2025 system)")


Channel = Annotated[PostalChannel | CounterChannel, Field(discriminator="type")]


class Document(Strict):
    component_code: str = Field(min_length=1, max_length=50)
    name: str = Field(min_length=1, max_length=300)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=1, le=200_000_000, description="Bytes")
    media_type: MEDIA_TYPES


class CounterReturn(Strict):
    type: Literal["counter"]


class PostalReturn(Strict):
    type: Literal["postal"]
    recipient_name: str = Field(min_length=1, max_length=100)
    phone: str = Field(pattern=PHONE_PATTERN)
    address: UnitRef


ReturnMethod = Annotated[CounterReturn | PostalReturn, Field(discriminator="type")]


class FeePaid(Strict):
    kind: Literal["fee", "charge"]
    name: str = Field(min_length=1, max_length=200)
    amount: int = Field(ge=0, le=MAX_AMOUNT_VND, description="VND")
    receipt_number: str | None = Field(default=None, max_length=50)


class IntakeRequest(Strict):
    procedure_code: str = Field(min_length=1, max_length=50)
    applicant: Applicant
    subject_location: UnitRef | None = Field(default=None, description="Where the land or property lies")
    channel: Channel
    documents: list[Document] = Field(default_factory=list, max_length=100)
    return_method: ReturnMethod
    fees: list[FeePaid] = Field(default_factory=list, max_length=20, description="Fees collected at intake")


PORTAL_REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"  # also a valid Idempotency-Key
MAX_URL = 2000


class OnlineDocument(Document):
    """A document of an online dossier: the portal holds the file, the gateway fetches it from `url`."""

    url: str = Field(max_length=MAX_URL, description="http(s) URL the gateway fetches the file from")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not _is_http_url(value):
            raise PydanticCustomError(
                "document.url_scheme", "Địa chỉ tải tệp phải là một URL http:// hoặc https:// đầy đủ."
            )
        return value


def _is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host (and a valid port, if any), nothing blank or unprintable in it."""
    if any(c.isspace() or not c.isprintable() for c in value):
        return False
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0  # .port raises ValueError on a bad one
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and port_ok


class OnlineIntakeRequest(Strict):
    """An online dossier pushed by the National Public Service Portal (adapters/dvcqg/vendor/README.md): always
    the `online` channel, no fees collected at intake, each document with the URL its file is fetched from."""

    portal_reference: str = Field(
        min_length=1,
        max_length=64,
        pattern=PORTAL_REFERENCE_PATTERN,
        description="The portal's own reference of the dossier; also the request's Idempotency-Key",
    )
    procedure_code: str = Field(min_length=1, max_length=50)
    applicant: Applicant
    subject_location: UnitRef | None = Field(default=None, description="Where the land or property lies")
    documents: list[OnlineDocument] = Field(default_factory=list, max_length=100)
    return_method: ReturnMethod
    submitted_at: str = Field(
        pattern=r"^[0-9]{14}$", description=f"When the citizen submitted on the portal: {TIME_PATTERN}, Vietnam time"
    )

    @field_validator("submitted_at")
    @classmethod
    def _portal_time(cls, value: str) -> str:
        try:
            parse_portal_time(value)
        except ValueError:
            raise PydanticCustomError(
                "portal.submitted_at", f"Thời điểm nộp phải có dạng {TIME_PATTERN} (giờ Việt Nam), ngày giờ có thật."
            ) from None
        return value

    def filing(self) -> "OnlineFiling":
        """The dossier as the intake path handles and stores it."""
        return OnlineFiling(
            procedure_code=self.procedure_code,
            applicant=self.applicant,
            subject_location=self.subject_location,
            channel=OnlineChannel(
                portal_reference=self.portal_reference, submitted_at=parse_portal_time(self.submitted_at)
            ),
            documents=self.documents,
            return_method=self.return_method,
        )


class OnlineChannel(Strict):
    """The channel of a dossier the portal pushed, as the gateway records it (never sent by a client)."""

    type: Literal["online"] = "online"
    portal_reference: str
    submitted_at: AwareDatetime = Field(description="When the citizen submitted on the portal")


class OnlineFiling(IntakeRequest):
    """Internal: an online dossier on the shared intake path (gateway/workflow/intake.py), its channel made
    explicit and its documents with their URLs; no fees are collected online at intake."""

    channel: OnlineChannel  # type: ignore[assignment]
    documents: list[OnlineDocument] = Field(default_factory=list, max_length=100)  # type: ignore[assignment]


class NamedCode(BaseModel):
    code: str
    name: str


class AgencyRef(BaseModel):
    identifier: str
    name: str


class FeeLine(BaseModel):
    kind: str
    name: str
    amount: int


class Fees(BaseModel):
    due: list[FeeLine]
    collected: list[FeePaid]
    total_due: int
    outstanding: int


class ResolvedUnitOut(BaseModel):
    """A unit as given (code and system) and what it resolved to (2025 commune and province)."""

    given_code: str
    given_system: str
    legacy_name: str | None = None
    commune_code: str
    commune_name: str
    province_code: str
    province_name: str


class RoutingStepOut(BaseModel):
    order: int
    name: str
    basis: str
    rule: str
    agency: AgencyRef
    unit: ResolvedUnitOut | None


class RoutingOut(BaseModel):
    """Why the dossier went where it went: the rule applied and, for composite procedures, every step."""

    procedure: dict
    basis: str
    rule: str
    non_geographic: str
    intake: dict
    steps: list[RoutingStepOut]
    residence: ResolvedUnitOut
    subject_location: ResolvedUnitOut | None = None


class Receipt(BaseModel):
    """Form 01 (Circular 03/2025/TT-VPCP): receipt and appointment slip."""

    form: Literal["01"] = "01"
    code: str
    status: str
    status_label: str
    procedure: NamedCode
    agency: AgencyRef
    channel: str
    received_at: AwareDatetime
    appointment_at: AwareDatetime
    identity_status: Literal["verified", "partial_confirmed", "pending", "not_checked"] = Field(
        description="Check against the population database: pending means the register could not answer now; "
        "the gateway retries and forwarding waits for it up to a limit"
    )
    appointment_estimated: bool = Field(
        description="True for postal intake: the legal clock starts when the agency has the paper dossier, so the "
        "date assumes the configured postal transit time until then"
    )
    fees: Fees
    documents: list[Document]
    missing_components: list[NamedCode] = Field(
        description="Required components whose file has not arrived yet: the dossier is forwarded once none is"
    )
    upload_urls: dict[str, str] = Field(
        description="Declared document's SHA-256 → where to PUT its file (the gateway checks hash and type)"
    )
    forwarding: Literal["queued", "awaiting_documents"] = Field(
        description="queued: on its way to the agency; awaiting_documents: held until the missing files arrive"
    )
    return_method: CounterReturn | PostalReturn
    routing: RoutingOut
    tracking_pin: str | None = Field(default=None, description="Shown once, in the intake answer only")
    tracking_url: str
    tracking_page: str = Field(description="The citizen's tracking page with the code filled in (PIN typed there)")
    receipt_url: str | None = Field(
        default=None,
        description="The printable receipt (form 01) with the PIN and a QR code; in the intake answer only, "
        "working for MOTCUA_RECEIPT_LINK_HOURS",
    )


class Event(BaseModel):
    seq: int
    type: str
    label: str
    status_after: str
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    data: dict


class DossierStep(BaseModel):
    """One agency's part of the dossier; a composite (liên thông) procedure has several, in `order`."""

    order: int = Field(description="Steps run in this order; equal orders run side by side")
    name: str
    agency: str = Field(description="The step agency's identifier (tracking: its name)")
    status: str = Field(
        description="waiting (an earlier step is not done), received, forwarded, processing, supplement_requested, "
        "payment_requested, result_ready, refused, stopped, cancelled (the dossier ended first)"
    )
    status_label: str
    started_at: AwareDatetime | None = Field(description="When its delivery to the agency was queued")
    finished_at: AwareDatetime | None


class DossierStepWithResult(DossierStep):
    result: dict | None = Field(description="What the agency reported with its result (officer, note)")


class DossierView(BaseModel):
    code: str
    status: str
    status_label: str
    dvcqg_status: int
    procedure: NamedCode
    agency: AgencyRef
    channel: str
    identity_status: str
    received_at: AwareDatetime
    appointment_at: AwareDatetime
    steps: list[DossierStepWithResult] = Field(description="The dossier's status adds these up")
    receipt: dict


class EventList(BaseModel):
    items: list[Event]


class InboxMessage(BaseModel):
    message_id: str
    dossier_code: str
    identity_status: str = Field(description="Forwarded before verification ended when still 'pending'")
    created_at: AwareDatetime
    payload: dict = Field(
        description="The dossier as filed (applicant, channel, documents, return method, fees collected), "
        "`step` {order, name, of}: which step this agency takes, `steps`: all of them, and `previous_results`: "
        "what the earlier steps' agencies reported with their results"
    )


class InboxPage(BaseModel):
    items: list[InboxMessage]
    next_cursor: str | None


class AckResult(BaseModel):
    message_id: str
    dossier_code: str
    acknowledged_at: AwareDatetime


class AmountDue(Strict):
    name: str = Field(min_length=1, max_length=200, description="What is due, e.g. lệ phí trước bạ")
    amount: int = Field(ge=0, le=MAX_AMOUNT_VND, description="VND")


# Per event type: the fields it requires, and those it may carry beyond the common ones.
EVENT_REQUIRES: dict[str, frozenset[str]] = {
    "supplement_requested": frozenset({"missing_components"}),
    "payment_requested": frozenset({"amounts"}),
    "stopped": frozenset({"reason"}),
    "refused": frozenset({"reason"}),
    "apology": frozenset({"new_appointment_at"}),
}
EVENT_ALLOWS: dict[str, frozenset[str]] = {
    **EVENT_REQUIRES,
    "supplement_requested": frozenset({"missing_components", "reason"}),
    "apology": frozenset({"new_appointment_at", "reason"}),
}


class AgencyEventRequest(Strict):
    type: Literal[*AGENCY_EVENTS] = Field(
        description="physical_received: the paper dossier sent by post has arrived (starts the legal clock); "
        "supplement_requested (form 02, stops the clock; `missing_components`); payment_requested (`amounts`); "
        "payment_received; stopped (form 05, `reason`); refused (`reason`); result_ready; returned (result "
        "handed to the citizen); apology (form 04 on an overdue dossier: `new_appointment_at`, optional `reason`)"
    )
    event_id: str | None = Field(
        default=None, min_length=1, max_length=100, description="Your own id; a retry with it is not recorded twice"
    )
    occurred_at: AwareDatetime | None = None
    officer: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=2000)
    missing_components: list[Annotated[str, Field(min_length=1, max_length=300)]] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        validate_default=True,
        description="supplement_requested: what the dossier lacks or must correct (form 02)",
    )
    amounts: list[AmountDue] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        validate_default=True,
        description="payment_requested: the financial obligations, in VND; the total is computed",
    )
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        validate_default=True,
        description="stopped, refused: the reason (required); supplement_requested, apology: optional",
    )
    new_appointment_at: AwareDatetime | None = Field(
        default=None,
        validate_default=True,
        description="apology: the new appointment, later than the current one and than the event",
    )

    @field_validator("missing_components", "amounts", "reason", "new_appointment_at")
    @classmethod
    def _fits_type(cls, value: object, info: ValidationInfo) -> object:
        kind = info.data.get("type")
        if kind is None:  # the type itself is invalid: that error is enough
            return value
        name = info.field_name or ""
        if value is None and name in EVENT_REQUIRES.get(kind, ()):
            raise PydanticCustomError("event.field_required", "Trường này là bắt buộc với loại sự kiện này.")
        if value is not None and name not in EVENT_ALLOWS.get(kind, ()):
            raise PydanticCustomError("event.field_not_applicable", "Trường này không dùng cho loại sự kiện này.")
        return value

    @property
    def details(self) -> dict:
        """The per-type fields, as the event records them."""
        data = self.model_dump(
            mode="json",
            include={"officer", "note", "missing_components", "amounts", "reason", "new_appointment_at"},
            exclude_none=True,
        )
        if self.amounts is not None:
            data["total"] = sum(line.amount for line in self.amounts)
        return data


class WithdrawRequest(Strict):
    reason: str | None = Field(default=None, max_length=2000, description="Why the citizen withdraws, if told")
    officer: str | None = Field(default=None, max_length=100, description="Who took the request at the counter")


class SupplementRequest(Strict):
    documents: list[Document] = Field(min_length=1, max_length=100, description="The supplemented components")
    note: str | None = Field(default=None, max_length=2000)
    officer: str | None = Field(default=None, max_length=100)


class StepRef(BaseModel):
    order: int
    agency: str


class DocumentView(BaseModel):
    """A document linked to a dossier: a component from the submitter, or a result from a step's agency."""

    kind: Literal["component", "result"]
    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int
    media_type: Literal["application/pdf", "image/jpeg", "image/png"] = Field(description="Checked on the bytes")
    uploaded_at: AwareDatetime
    href: str | None = Field(description="Download path (authenticated, range-capable); null once purged")
    purged_at: AwareDatetime | None = Field(description="The bytes were removed after retention; the hash stays")
    component_code: str | None = None
    step: StepRef | None = None


class DocumentUploaded(BaseModel):
    documents: list[DocumentView] = Field(description="The content's links: one per component it was declared as")
    missing_components: list[NamedCode] | None = Field(
        default=None, description="Components: the required ones still missing"
    )
    forwarding: Literal["queued", "awaiting_documents"] | None = Field(
        default=None, description="Components: whether the dossier is on its way to the agency"
    )


class DocumentList(BaseModel):
    items: list[DocumentView]
    missing_components: list[NamedCode]


class TrackingResult(BaseModel):
    name: str
    sha256: str
    size: int
    media_type: str
    step: int
    href: str | None = Field(description="With the PIN, where the procedure allows an electronic result")


class TrackingPostalEvent(BaseModel):
    status_label: str
    occurred_at: AwareDatetime
    post_office: str | None


class TrackingPostal(BaseModel):
    """The mailed result: VNPost item number and where it is."""

    item_code: str
    status: str = Field(description="ordered, or a unified VNPost status (created … delivered, returned_to_sender)")
    status_label: str
    events: list[TrackingPostalEvent]


class TrackingTimelineItem(BaseModel):
    label: str
    status_label: str
    occurred_at: AwareDatetime


class TrackingView(BaseModel):
    code: str
    procedure: NamedCode
    agency: AgencyRef
    status: str
    status_label: str
    received_at: AwareDatetime
    appointment_at: AwareDatetime
    return_method: str
    steps: list[DossierStep]
    results: list[TrackingResult] = Field(description="The agencies' result documents: names and hashes")
    postal: TrackingPostal | None = Field(description="The mailed result's tracking, when it goes by post")
    timeline: list[TrackingTimelineItem]


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable `code` and per-field `errors`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict] | None = None


class Health(BaseModel):
    status: str
    checks: dict[str, str] | None = None


class OutboxMessage(BaseModel):
    message_id: str
    kind: str = Field(description="e.g. identity.verify, agency.deliver, dvcqg.sync_dossier")
    status: Literal["pending", "delivered", "dead", "cancelled"] = Field(
        description="dead: still failing after the retry budget (MOTCUA_OUTBOX_RETRY_BUDGET_SECONDS), replay it; "
        "cancelled: a delivery whose dossier ended (withdrawn, refused, stopped) before the agency took it"
    )
    dossier_code: str | None
    target: str | None
    attempts: int
    created_at: AwareDatetime
    available_at: AwareDatetime = Field(description="When a worker may take it next")
    delivered_at: AwareDatetime | None
    last_error: str | None


class DossierSearchRequest(Strict):
    id_number: str = Field(
        pattern=r"^[0-9]{12}$",
        description="The applicant's 12-digit personal identification number; matched by its keyed hash (numbers "
        "are encrypted at rest), in the body so that it never sits in an access log",
    )


class DossierSummary(BaseModel):
    code: str
    procedure_code: str
    agency_code: str
    channel: str
    status: str
    received_at: AwareDatetime
    appointment_at: AwareDatetime


class DossierSearchPage(BaseModel):
    items: list[DossierSummary] = Field(description="The applicant's dossiers, newest first (at most 100)")


class OutboxPage(BaseModel):
    items: list[OutboxMessage] = Field(description="Newest first; no payloads (they may carry personal data)")
