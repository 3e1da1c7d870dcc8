"""VNPost BCCI simulator: the protocol `client.py` speaks, on a real port, for the demo and the tests.

  POST /api/token                 {"username", "password"} → {"token", "expires_in"}; wrong credentials → 401
  POST /api/orders                Bearer token; an order as messages.order_request builds it →
                                  {"Status": "100", "Message", "OrderNumber", "ItemCode"} or a refusal:
                                  "101" missing or invalid fields, "102" wrong CustomerCode, "103" unusable
                                  ItemCode. The same OrderNumber again gets the same answer (no second item).
  GET  /api/tracking/{item}       Bearer token → {"Status": "100", "Message", "Events": [...]}; "104" unknown

Once an order is accepted its scenario plays: one status event every tick_seconds (the first a tick after the
order), kept for tracking and, when callback_url is set, POSTed there signed (signing.py), retried with backoff
on failure. A delivered item with COD due gets a final 21 carrying CODAmount.

Control (never down):
  POST /_simulator/scenario {"scenario": name}   for the next orders (see SCENARIOS); unknown → 400
  POST /_simulator/down {"seconds": s}           503 to everything else for that long
  POST /_simulator/expire_tokens                 forget every issued token (the next call gets a 401)
  GET  /_simulator/orders                        orders, their events and callbacks, tokens issued
"""

import argparse
import asyncio
import contextlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from adapters.postal import messages, signing
from adapters.postal.s10 import check_digit, s10_problem
from adapters.postal.status import vnpost_name

DELIVERED, COD_PAID = 14, 21
_DELIVERED = (1, 101, 10, 11, 12, 14)
SCENARIOS: dict[str, tuple[int, ...]] = {
    "delivered": _DELIVERED,
    "failed_then_delivered": (1, 101, 10, 11, 12, 15, 12, 14),
    "returned": (1, 101, 10, 11, 12, 15, 16, 17, 19),
    "quiet": (1,),  # created, then nothing ever: the gateway must poll
    # Each callback sent twice, and "out for delivery" sent after "delivered" (TraceDates stay true).
    "duplicate_out_of_order": _DELIVERED,
}
SERVICES = ("BCCI_THU_GOM", "BCCI_TRA_KET_QUA")
# Phones and province ids may be empty: an agency has no phone on file, and the address line names the province.
REQUIRED = ("OrderNumber", "ServiceName", "SenderFullname", "SenderAddress", "ReceiverFullname", "ReceiverAddress")
# Where each stage happens and what the postman wrote, so events look like VNPost's.
POST_OFFICES = {
    101: "Bưu cục giao dịch Ba Đình",
    10: "Trung tâm khai thác chia chọn Hà Nội",
    11: "Bưu cục phát Ba Đình",
    12: "Bưu cục phát Ba Đình",
    14: "Bưu cục phát Ba Đình",
    15: "Bưu cục phát Ba Đình",
    19: "Bưu cục giao dịch Ba Đình",
}
NOTES = {
    14: "Người nhận đã ký nhận",
    15: "Không liên lạc được với người nhận",
    16: "Chuyển hoàn theo yêu cầu người gửi",
    19: "Đã trả lại người gửi",
}


@dataclass
class SimulatorConfig:
    username: str
    password: str
    customer_code: str
    callback_url: str | None  # where status callbacks go; None: tracking look-ups only
    callback_secret: bytes
    assigned_prefix: str = "RR"  # service indicator of the item numbers the simulator assigns
    tick_seconds: float = 0.2  # between two status events of an item
    scenario: str = "delivered"  # for orders until POST /_simulator/scenario says otherwise
    token_seconds: float = 3600.0  # expires_in of the issued tokens
    callback_attempts: int = 4
    callback_backoff_seconds: float = 0.1  # doubled after each failed attempt
    callback_timeout_seconds: float = 5.0


@dataclass
class _Order:
    order_number: str
    item_code: str
    scenario: str
    cod_amount: int
    answer: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)  # bodies, in the order they happened
    callbacks_sent: list[int] = field(default_factory=list)  # codes, in the order the receiver took them
    callbacks_failed: list[int] = field(default_factory=list)  # codes given up after every attempt


@dataclass
class _State:
    config: SimulatorConfig
    scenario: str
    tokens: dict[str, float] = field(default_factory=dict)  # token → monotonic expiry
    tokens_issued: int = 0
    unauthorized: int = 0  # 401s answered on the API
    orders: dict[str, _Order] = field(default_factory=dict)  # by OrderNumber
    items: dict[str, _Order] = field(default_factory=dict)  # by ItemCode
    serial: int = 0
    down_until: float = 0.0  # monotonic
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    session: aiohttp.ClientSession | None = None  # for callbacks, opened on the first one


STATE = web.AppKey("postal_simulator", _State)


def _answer(status: str, message: str, http_status: int = 200, **extra: Any) -> web.Response:
    return web.json_response({"Status": status, "Message": message, **extra}, status=http_status)


@web.middleware
async def _outage(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    state = request.app[STATE]
    if not request.path.startswith("/_simulator/") and time.monotonic() < state.down_until:
        return _answer("503", "Hệ thống đang bảo trì, vui lòng thử lại sau.", 503)
    return await handler(request)


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _authorized(request: web.Request) -> bool:
    state = request.app[STATE]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expiry = state.tokens.get(token) if scheme == "Bearer" else None
    if expiry is not None and time.monotonic() < expiry:
        return True
    state.unauthorized += 1
    return False


def _unauthorized() -> web.Response:
    response = _answer("401", "Mã truy cập không hợp lệ hoặc đã hết hạn.", 401)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def issue_token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _json(request)
    if not isinstance(body, dict):
        return _answer("101", "Yêu cầu cấp mã truy cập phải là JSON có username và password.", 400)
    username, password = str(body.get("username", "")), str(body.get("password", ""))
    if not (
        hmac.compare_digest(username.encode(), state.config.username.encode())
        & hmac.compare_digest(password.encode(), state.config.password.encode())
    ):
        return _answer("401", "Sai tên đăng nhập hoặc mật khẩu.", 401)
    token = secrets.token_urlsafe(24)
    state.tokens[token] = time.monotonic() + state.config.token_seconds
    state.tokens_issued += 1
    return web.json_response({"token": token, "expires_in": state.config.token_seconds})


def _assign_item_code(state: _State) -> str:
    while True:
        state.serial += 1
        serial = f"{state.serial:08d}"
        item_code = f"{state.config.assigned_prefix}{serial}{check_digit(serial)}VN"
        if item_code not in state.items:  # the caller may have used it as a pool number
            return item_code


async def create_order(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if not _authorized(request):
        return _unauthorized()
    body = await _json(request)
    if not isinstance(body, dict):
        return _answer("101", "Dữ liệu đơn hàng phải là một đối tượng JSON.", 400)
    if body.get("CustomerCode") != state.config.customer_code:
        return _answer("102", "Mã khách hàng (CustomerCode) không đúng hoặc chưa được ký hợp đồng.")
    order_number = body.get("OrderNumber")
    if isinstance(order_number, str) and order_number in state.orders:
        return web.json_response(state.orders[order_number].answer)  # a retry: the same answer, no new item
    missing = [name for name in REQUIRED if not (isinstance(body.get(name), str) and body[name].strip())]
    if missing:
        return _answer("101", f"Thiếu thông tin bắt buộc: {', '.join(missing)}.")
    if body["ServiceName"] not in SERVICES:
        return _answer("101", f"Dịch vụ (ServiceName) không hợp lệ: {body['ServiceName']}.")
    cod = body.get("CODAmount", 0)
    if not isinstance(cod, int) or isinstance(cod, bool) or cod < 0:
        return _answer("101", "Số tiền thu hộ (CODAmount) phải là số nguyên không âm (đồng).")
    item_code = body.get("ItemCode")
    if item_code is None:
        item_code = _assign_item_code(state)
    else:
        problem = s10_problem(item_code) if isinstance(item_code, str) else "Số hiệu bưu gửi phải là chuỗi ký tự."
        if problem is not None:
            return _answer("103", problem)
        if item_code in state.items:
            return _answer("103", f"Số hiệu bưu gửi {item_code} đã được sử dụng cho một đơn hàng khác.")
    answer = {"Status": messages.ACCEPTED, "Message": "Thành công", "OrderNumber": order_number, "ItemCode": item_code}
    order = _Order(order_number, item_code, state.scenario, cod, answer)
    state.orders[order_number] = state.items[item_code] = order
    _spawn(state, _play(state, order))
    return web.json_response(answer)


async def tracking(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if not _authorized(request):
        return _unauthorized()
    item_code = request.match_info["item_code"]
    order = state.items.get(item_code)
    if order is None:
        return _answer("104", f"Không tìm thấy bưu gửi {item_code}.")
    return _answer(messages.ACCEPTED, "Thành công", Events=list(order.events))


def _spawn(state: _State, coroutine: Coroutine[Any, Any, None]) -> None:
    task = asyncio.create_task(coroutine)
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)


def _event(order: _Order, code: int) -> dict[str, Any]:
    event = messages.TrackingEvent(
        item_code=order.item_code,
        order_number=order.order_number,
        code=code,
        name=vnpost_name(code),
        occurred_at=datetime.now(messages.VN_TZ).replace(microsecond=0),  # TraceDate has whole seconds
        post_office=POST_OFFICES.get(code),
        note=NOTES.get(code),
        cod_amount=order.cod_amount if code == COD_PAID else None,
    )
    return messages.tracking_event_body(event)


async def _play(state: _State, order: _Order) -> None:
    """The order's scenario, one event per tick. Callbacks go through a queue to a sender of their own, so a
    slow or failing receiver never delays the events themselves."""
    codes = list(SCENARIOS[order.scenario])
    if order.cod_amount > 0 and codes[-1] == DELIVERED:
        codes.append(COD_PAID)
    disorderly = order.scenario == "duplicate_out_of_order"
    held_index = codes.index(DELIVERED) - 1 if disorderly else None  # "out for delivery" waits for "delivered"
    outbox: asyncio.Queue[dict[str, Any] | None] | None = None
    if state.config.callback_url is not None:
        outbox = asyncio.Queue()
        _spawn(state, _send_callbacks(state, order, outbox))
    loop = asyncio.get_running_loop()
    start, held = loop.time(), None
    try:
        for index, code in enumerate(codes, start=1):
            await asyncio.sleep(max(0.0, start + index * state.config.tick_seconds - loop.time()))
            body = _event(order, code)
            order.events.append(body)
            if outbox is None:
                continue
            if index - 1 == held_index:
                held = body
                continue
            batch, held = ([body] if held is None else [body, held]), None
            for each in batch:
                for _ in range(2 if disorderly else 1):
                    outbox.put_nowait(each)
    finally:
        if outbox is not None:
            outbox.put_nowait(None)


async def _send_callbacks(state: _State, order: _Order, outbox: asyncio.Queue[dict[str, Any] | None]) -> None:
    while (body := await outbox.get()) is not None:
        if await _deliver(state, body):
            order.callbacks_sent.append(body["Status"])
        else:
            order.callbacks_failed.append(body["Status"])


async def _deliver(state: _State, body: dict[str, Any]) -> bool:
    """POST one signed callback; a failure or a non-2xx is tried again, re-signed, after a growing pause."""
    config = state.config
    assert config.callback_url is not None
    raw = json.dumps(body, ensure_ascii=False).encode()
    if state.session is None:
        state.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=config.callback_timeout_seconds))
    for attempt in range(config.callback_attempts):
        if attempt:
            await asyncio.sleep(config.callback_backoff_seconds * 2 ** (attempt - 1))
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            signing.SIGNATURE_HEADER: signing.sign(config.callback_secret, timestamp, raw),
            signing.TIMESTAMP_HEADER: str(timestamp),
        }
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            async with state.session.post(config.callback_url, data=raw, headers=headers) as answer:
                if 200 <= answer.status < 300:
                    return True
    return False


async def set_scenario(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _json(request)
    scenario = body.get("scenario") if isinstance(body, dict) else None
    if scenario not in SCENARIOS:
        return web.json_response({"error": f"scenario must be one of {', '.join(SCENARIOS)}"}, status=400)
    state.scenario = scenario
    return web.json_response({"scenario": scenario})


async def go_down(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _json(request)
    seconds = body.get("seconds") if isinstance(body, dict) else None
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= 86_400:
        return web.json_response({"error": "seconds must be a number from 0 to 86400"}, status=400)
    state.down_until = time.monotonic() + seconds
    return web.json_response({"down_seconds": seconds})


async def expire_tokens(request: web.Request) -> web.Response:
    state = request.app[STATE]
    expired, state.tokens = len(state.tokens), {}
    return web.json_response({"expired": expired})


async def list_orders(request: web.Request) -> web.Response:
    state = request.app[STATE]
    orders = [
        {
            "order_number": order.order_number,
            "item_code": order.item_code,
            "scenario": order.scenario,
            "cod_amount": order.cod_amount,
            "events": [event["Status"] for event in order.events],
            "callbacks_sent": order.callbacks_sent,
            "callbacks_failed": order.callbacks_failed,
        }
        for order in state.orders.values()
    ]
    return web.json_response(
        {
            "scenario": state.scenario,
            "orders": orders,
            "tokens_issued": state.tokens_issued,
            "unauthorized": state.unauthorized,
        }
    )


async def _stop_scenarios(app: web.Application) -> None:
    state = app[STATE]
    tasks = list(state.tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _close_session(app: web.Application) -> None:
    state = app[STATE]
    if state.session is not None:
        await state.session.close()
        state.session = None


def create_app(config: SimulatorConfig) -> web.Application:
    if config.scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}")
    if not re.fullmatch(r"[A-Z]{2}", config.assigned_prefix):
        raise ValueError("assigned_prefix must be two capital letters")
    app = web.Application(middlewares=[_outage])
    app[STATE] = _State(config, config.scenario)
    app.router.add_post("/api/token", issue_token)
    app.router.add_post("/api/orders", create_order)
    app.router.add_get("/api/tracking/{item_code}", tracking)
    app.router.add_post("/_simulator/scenario", set_scenario)
    app.router.add_post("/_simulator/down", go_down)
    app.router.add_post("/_simulator/expire_tokens", expire_tokens)
    app.router.add_get("/_simulator/orders", list_orders)
    app.on_shutdown.append(_stop_scenarios)  # no callbacks while the server winds down
    app.on_cleanup.extend([_stop_scenarios, _close_session])  # and any an order during shutdown started
    return app


async def start_postal_simulator(
    config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, str]:
    """Start on a real socket; returns the runner (await runner.cleanup() to stop: it cancels the scenarios
    and closes the callback session) and the base URL, no trailing slash (PostalConfig.url)."""
    runner = web.AppRunner(create_app(config), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, f"http://{host}:{runner.addresses[0][1]}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adapters.postal.simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--username", default="motcua")
    parser.add_argument("--password", default="motcua-demo")
    parser.add_argument("--customer-code", default="MOTCUA-HN")
    parser.add_argument("--callback-url", default=None, help="e.g. http://127.0.0.1:8080/v1/postal/callbacks")
    parser.add_argument("--callback-secret", default="motcua-demo-callback-secret")
    parser.add_argument("--scenario", choices=SCENARIOS, default="delivered")
    parser.add_argument("--tick-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    config = SimulatorConfig(
        username=args.username,
        password=args.password,
        customer_code=args.customer_code,
        callback_url=args.callback_url,
        callback_secret=args.callback_secret.encode(),
        tick_seconds=args.tick_seconds,
        scenario=args.scenario,
    )
    with contextlib.suppress(KeyboardInterrupt):
        web.run_app(create_app(config), host=args.host, port=args.port, access_log=None)


if __name__ == "__main__":
    main()
