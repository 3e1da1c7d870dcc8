"""Pure build/parse pairs for VNPost BCCI: pickup orders (a citizen's dossier fetched from home to the
agency), result-delivery orders (the agency's result mailed to the citizen), the order answer, and status
callbacks. No I/O here: `client.py` sends what these build and hands back what they parse.

Field names are BCCI's (DESIGN §2): CustomerCode, OrderNumber (= the dossier code), ItemCode (the S10 item
number, ours from the pool or VNPost's), CODAmount (fees still due, collected on delivery), Sender*/Receiver*
name, address, phone and province, Description. An answer `{"Status": "100", ...}` means accepted.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from adapters.postal.errors import MalformedAnswer, PostalRejected
from adapters.postal.s10 import s10_problem
from adapters.postal.settings import PostalConfig
from adapters.postal.status import unified, vnpost_name

ACCEPTED = "100"
SERVICES = {"pickup": "BCCI_THU_GOM", "delivery": "BCCI_TRA_KET_QUA"}
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TIME_FORMAT = "%d/%m/%Y %H:%M:%S"  # BCCI's local-time format, Vietnam time


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    phone: str
    address: str  # the whole address line, commune and province included
    province_code: str  # 2025 province code


@dataclass(frozen=True, slots=True)
class Order:
    order_number: str  # the dossier code
    sender: Party
    receiver: Party
    description: str
    cod_amount: int = 0  # VND still due from the receiver
    item_code: str | None = None  # from our pool; None lets VNPost assign one


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    order_number: str
    item_code: str


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    item_code: str
    order_number: str | None
    code: int
    name: str
    occurred_at: datetime
    post_office: str | None
    note: str | None
    cod_amount: int | None

    @property
    def status(self) -> str:
        return unified(self.code).value


def _party(prefix: str, party: Party) -> dict[str, str]:
    return {
        f"{prefix}Fullname": party.name,
        f"{prefix}Tel": party.phone,
        f"{prefix}Address": party.address,
        f"{prefix}ProvinceId": party.province_code,
    }


def order_request(order: Order, config: PostalConfig, *, service: str) -> dict[str, Any]:
    """The JSON body of a pickup order (`service="pickup"`) or a result-delivery order (`"delivery"`)."""
    if service not in SERVICES:
        raise ValueError(f"service must be one of {sorted(SERVICES)}: {service!r}")
    body: dict[str, Any] = {
        "CustomerCode": config.customer_code,
        "OrderNumber": order.order_number,
        "ServiceName": SERVICES[service],
        "CODAmount": order.cod_amount,
        "Description": order.description,
        **_party("Sender", order.sender),
        **_party("Receiver", order.receiver),
    }
    if order.item_code is not None:
        body["ItemCode"] = order.item_code
    return body


def parse_order_response(body: Any, order_number: str) -> OrderAccepted:
    """The accepted order with its item number, or PostalRejected (VNPost's reason) / MalformedAnswer."""
    if not isinstance(body, dict) or not isinstance(body.get("Status"), str):
        raise MalformedAnswer("an order answer is a JSON object with a string Status")
    if body["Status"] != ACCEPTED:
        raise PostalRejected(f"{body['Status']}: {body.get('Message') or 'no reason given'}")
    item_code = body.get("ItemCode")
    if not isinstance(item_code, str) or s10_problem(item_code) is not None:
        raise MalformedAnswer(f"accepted order without a valid S10 ItemCode: {item_code!r}")
    if body.get("OrderNumber", order_number) != order_number:
        raise MalformedAnswer("the answer is about another order")
    return OrderAccepted(order_number, item_code)


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedAnswer(f"{key} must be text")
    return value or None


def parse_tracking_event(body: Any) -> TrackingEvent:
    """One status event, as a callback or a tracking look-up carries it."""
    if not isinstance(body, dict):
        raise MalformedAnswer("a tracking event is a JSON object")
    item_code, code, when = body.get("ItemCode"), body.get("Status"), body.get("TraceDate")
    if not isinstance(item_code, str) or s10_problem(item_code) is not None:
        raise MalformedAnswer(f"ItemCode is not a valid S10 number: {item_code!r}")
    if isinstance(code, str) and code.isascii() and code.isdigit():
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool) or code < 0:
        raise MalformedAnswer("Status must be a status code")
    try:
        occurred_at = datetime.strptime(str(when), TIME_FORMAT).replace(tzinfo=VN_TZ)
    except ValueError as exc:
        raise MalformedAnswer(f"TraceDate must be {TIME_FORMAT}: {when!r}") from exc
    cod = body.get("CODAmount")
    if cod is not None and (not isinstance(cod, int) or isinstance(cod, bool) or cod < 0):
        raise MalformedAnswer("CODAmount must be a whole number of VND")
    return TrackingEvent(
        item_code=item_code,
        order_number=_optional_text(body, "OrderNumber"),
        code=code,
        name=_optional_text(body, "StatusName") or vnpost_name(code),
        occurred_at=occurred_at,
        post_office=_optional_text(body, "PostOfficeName"),
        note=_optional_text(body, "Note"),
        cod_amount=cod,
    )


def tracking_event_body(event: TrackingEvent) -> dict[str, Any]:
    """The inverse of `parse_tracking_event` (the simulator sends what the gateway parses)."""
    body: dict[str, Any] = {
        "ItemCode": event.item_code,
        "Status": event.code,
        "StatusName": event.name,
        "TraceDate": event.occurred_at.astimezone(VN_TZ).strftime(TIME_FORMAT),
    }
    optional = {
        "OrderNumber": event.order_number,
        "PostOfficeName": event.post_office,
        "Note": event.note,
        "CODAmount": event.cod_amount,
    }
    return body | {key: value for key, value in optional.items() if value is not None}
