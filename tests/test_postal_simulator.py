"""The VNPost client against the simulator over real sockets (tokens, orders, item numbers, tracking and signed
callbacks for every scenario), and against a raw socket server for the failures a well-behaved server never
shows: whatever goes wrong, only a PostalError leaves the client."""

import asyncio
import dataclasses
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.postal import messages, signing
from adapters.postal.client import PostalClient
from adapters.postal.errors import BadCallback, MalformedAnswer, PostalError, PostalRejected, PostalUnavailable
from adapters.postal.s10 import check_digit, s10_problem
from adapters.postal.settings import PostalConfig
from adapters.postal.simulator import SimulatorConfig, start_postal_simulator
from adapters.postal.status import ItemEvent, Unified, current
from tests.canned_http import SILENT, canned_server
from tests.canned_http import http_answer as _http
from tests.canned_http import json_answer as _json

TICK = 0.05
SECRET = b"bccI-callback-secret-" + b"x" * 11
USERNAME, PASSWORD, CUSTOMER = "motcua", "mat-khau-thu-nghiem", "MOTCUA-HN"
POOL_NUMBER = "EE123456785VN"
SENDER = messages.Party(
    "Sở Tư pháp thành phố Hà Nội", "02438253467", "1B Trần Phú, Phường Ba Đình, Thành phố Hà Nội", "01"
)
RECEIVER = messages.Party("Nguyễn Văn An", "0912345678", "12 phố Đội Cấn, Phường Ba Đình, Thành phố Hà Nội", "01")


def _order(number: int, **changes: Any) -> messages.Order:
    code = f"000.00.10.H26-261121-{number:04d}"
    order = messages.Order(code, SENDER, RECEIVER, f"Kết quả hồ sơ {code}: Phiếu lý lịch tư pháp số 1")
    return dataclasses.replace(order, **changes)


def _config(url: str, **changes: Any) -> PostalConfig:
    config = PostalConfig(url=url, customer_code=CUSTOMER, username=USERNAME, password=PASSWORD, callback_secret=SECRET)
    return dataclasses.replace(config, **({"timeout_seconds": 2.0} | changes))


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


async def _tracked(client: PostalClient, item_code: str, count: int) -> list[messages.TrackingEvent]:
    deadline = time.monotonic() + 5.0
    while len(events := await client.track(item_code)) < count:
        assert time.monotonic() < deadline, f"only {[e.code for e in events]} tracked"
        await asyncio.sleep(TICK / 2)
    return events


async def _control(url: str, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{url}/_simulator/{path}", json=body) as answer,
    ):
        return answer.status, await answer.json()


async def _orders(url: str) -> dict[str, Any]:
    status, listing = await _control(url, "GET", "orders")
    assert status == 200
    return listing


@dataclasses.dataclass
class Receiver:
    """The gateway's side of the callbacks: verifies each signature, keeps what it believed in arrival order."""

    url: str = ""
    events: list[messages.TrackingEvent] = dataclasses.field(default_factory=list)
    rejected: int = 0
    fail_next: int = 0  # answer 500 to this many callbacks first

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=500)
        try:
            signing.verify(SECRET, request.headers, raw, time.time(), 300)
        except BadCallback:
            self.rejected += 1
            return web.Response(status=401)
        self.events.append(messages.parse_tracking_event(json.loads(raw)))
        return web.json_response({"ok": True})

    def codes(self, item_code: str) -> list[int]:
        return [event.code for event in self.events if event.item_code == item_code]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/callbacks", receiver.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/callbacks"
    yield receiver
    await runner.cleanup()


@pytest.fixture
async def simulator(receiver: Receiver) -> AsyncIterator[str]:
    config = SimulatorConfig(USERNAME, PASSWORD, CUSTOMER, receiver.url, SECRET, tick_seconds=TICK)
    runner, url = await start_postal_simulator(config)
    yield url
    await runner.cleanup()


@pytest.fixture
async def client(simulator: str) -> AsyncIterator[PostalClient]:
    async with PostalClient(_config(simulator)) as client:
        yield client


async def test_an_order_gets_a_valid_s10_number_from_vnpost(client):
    delivery = await client.create_order(_order(1), service="delivery")
    pickup = await client.create_order(_order(2), service="pickup")
    assert delivery.order_number == _order(1).order_number
    for accepted in (delivery, pickup):
        assert s10_problem(accepted.item_code) is None and accepted.item_code.startswith("RR")
    assert delivery.item_code != pickup.item_code


async def test_a_pool_number_is_used_once_and_must_be_valid(client, simulator):
    accepted = await client.create_order(_order(1, item_code=POOL_NUMBER), service="delivery")
    assert accepted.item_code == POOL_NUMBER
    with pytest.raises(PostalRejected, match=r"^103: Số hiệu bưu gửi EE123456785VN đã được sử dụng"):
        await client.create_order(_order(2, item_code=POOL_NUMBER), service="delivery")
    with pytest.raises(PostalRejected, match=r"^103: Chữ số kiểm tra"):
        await client.create_order(_order(3, item_code="EE123456784VN"), service="delivery")
    assert [order["item_code"] for order in (await _orders(simulator))["orders"]] == [POOL_NUMBER]


async def test_wrong_customer_code_and_missing_fields_are_refused_in_vietnamese(client, simulator):
    async with PostalClient(_config(simulator, customer_code="KHONG-CO")) as stranger:
        with pytest.raises(PostalRejected, match=r"^102: Mã khách hàng"):
            await stranger.create_order(_order(1), service="delivery")
    nameless = dataclasses.replace(RECEIVER, name="", address=" ")
    with pytest.raises(PostalRejected, match=r"^101: Thiếu thông tin bắt buộc: ReceiverFullname, ReceiverAddress\.$"):
        await client.create_order(_order(2, receiver=nameless), service="delivery")
    with pytest.raises(PostalRejected, match=r"^101: Số tiền thu hộ"):
        await client.create_order(_order(3, cod_amount=-1), service="delivery")
    with pytest.raises(PostalRejected, match=r"^104: Không tìm thấy bưu gửi"):
        await client.track(POOL_NUMBER)
    assert (await _orders(simulator))["orders"] == []


async def test_the_same_order_number_gets_the_same_answer_and_no_second_item(client, simulator):
    first, again, concurrent = await asyncio.gather(
        client.create_order(_order(1), service="delivery"),
        client.create_order(_order(1), service="delivery"),
        client.create_order(_order(1), service="delivery"),
    )
    assert first == again == concurrent
    assert await client.create_order(_order(1), service="delivery") == first
    assert [order["item_code"] for order in (await _orders(simulator))["orders"]] == [first.item_code]


async def test_the_api_wants_a_bearer_token_and_json(simulator):
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{simulator}/api/orders", json={"CustomerCode": CUSTOMER}) as answer:
            assert answer.status == 401
        async with session.post(f"{simulator}/api/token", json={"username": USERNAME, "password": "x"}) as answer:
            assert answer.status == 401
            assert (await answer.json())["Message"] == "Sai tên đăng nhập hoặc mật khẩu."
        async with session.post(f"{simulator}/api/token", json={"username": USERNAME, "password": PASSWORD}) as answer:
            token = (await answer.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        async with session.post(f"{simulator}/api/orders", data=b"{not json", headers=headers) as answer:
            assert answer.status == 400 and (await answer.json())["Status"] == "101"


async def test_a_refused_token_is_renewed_once_and_the_call_made_again(client, simulator):
    await client.create_order(_order(1), service="delivery")
    await client.create_order(_order(2), service="delivery")
    assert (await _orders(simulator))["tokens_issued"] == 1  # cached
    assert (await _control(simulator, "POST", "expire_tokens"))[1] == {"expired": 1}
    await client.create_order(_order(3), service="delivery")
    listing = await _orders(simulator)
    assert (listing["tokens_issued"], listing["unauthorized"], len(listing["orders"])) == (2, 1, 3)


async def test_a_token_is_renewed_shortly_before_it_expires_and_bad_credentials_are_an_outage():
    config = SimulatorConfig(USERNAME, PASSWORD, CUSTOMER, None, SECRET, tick_seconds=TICK, token_seconds=0.3)
    runner, url = await start_postal_simulator(config)
    try:
        async with PostalClient(_config(url)) as client:
            await client.create_order(_order(1), service="delivery")
            await asyncio.sleep(0.3)
            await client.create_order(_order(2), service="delivery")
        listing = await _orders(url)
        assert (listing["tokens_issued"], listing["unauthorized"]) == (2, 0)
        async with PostalClient(_config(url, password="sai")) as client:
            with pytest.raises(PostalUnavailable, match="username or password"):
                await client.create_order(_order(3), service="delivery")
    finally:
        await runner.cleanup()


DELIVERED = [1, 101, 10, 11, 12, 14]


@pytest.mark.parametrize(
    ("scenario", "tracked", "called_back"),
    [
        ("delivered", DELIVERED, DELIVERED),
        ("failed_then_delivered", [1, 101, 10, 11, 12, 15, 12, 14], [1, 101, 10, 11, 12, 15, 12, 14]),
        ("returned", [1, 101, 10, 11, 12, 15, 16, 17, 19], [1, 101, 10, 11, 12, 15, 16, 17, 19]),
        ("duplicate_out_of_order", DELIVERED, [1, 1, 101, 101, 10, 10, 11, 11, 14, 14, 12, 12]),
    ],
)
async def test_each_scenario_plays_in_tracking_and_in_signed_callbacks(
    client, simulator, receiver, scenario, tracked, called_back
):
    assert await _control(simulator, "POST", "scenario", {"scenario": scenario}) == (200, {"scenario": scenario})
    item = (await client.create_order(_order(1), service="delivery")).item_code
    events = await _tracked(client, item, len(tracked))
    assert [event.code for event in events] == tracked
    assert [event.occurred_at for event in events] == sorted(event.occurred_at for event in events)
    assert all(event.order_number == _order(1).order_number and event.cod_amount is None for event in events)
    await _until(lambda: len(receiver.codes(item)) >= len(called_back))
    assert receiver.codes(item) == called_back and receiver.rejected == 0
    assert {(e.code, e.occurred_at) for e in receiver.events} == {(e.code, e.occurred_at) for e in events}
    final = Unified.RETURNED_TO_SENDER if scenario == "returned" else Unified.DELIVERED
    assert current(ItemEvent(e.occurred_at, e.code) for e in receiver.events) is final
    if scenario == "duplicate_out_of_order":  # "out for delivery" came late, with its true time
        out, delivered = receiver.events[-1], receiver.events[-3]
        assert (out.code, delivered.code) == (12, 14) and out.occurred_at <= delivered.occurred_at
    [order] = (await _orders(simulator))["orders"]
    assert (order["scenario"], order["events"], order["callbacks_sent"]) == (scenario, tracked, called_back)


async def test_a_quiet_item_says_created_and_then_nothing(client, simulator, receiver):
    await _control(simulator, "POST", "scenario", {"scenario": "quiet"})
    item = (await client.create_order(_order(1), service="delivery")).item_code
    await _until(lambda: receiver.codes(item) == [1])
    await asyncio.sleep(6 * TICK)
    assert receiver.codes(item) == [1]
    assert [event.code for event in await client.track(item)] == [1]


async def test_cod_is_paid_out_after_delivery_only(client, simulator):
    delivered = (await client.create_order(_order(1, cod_amount=200_000), service="delivery")).item_code
    await _control(simulator, "POST", "scenario", {"scenario": "returned"})
    returned = (await client.create_order(_order(2, cod_amount=50_000), service="delivery")).item_code
    events = await _tracked(client, delivered, 7)
    assert [event.code for event in events] == [*DELIVERED, 21]
    assert (events[-1].status, events[-1].cod_amount) == ("cod_paid", 200_000)
    await _tracked(client, returned, 9)
    await asyncio.sleep(2 * TICK)  # a 21 would have come by now
    events = await client.track(returned)
    assert [event.code for event in events] == [1, 101, 10, 11, 12, 15, 16, 17, 19]
    assert all(event.cod_amount is None for event in events)


async def test_failed_callbacks_are_retried(client, simulator, receiver):
    receiver.fail_next = 2
    item = (await client.create_order(_order(1), service="delivery")).item_code
    await _until(lambda: len(receiver.codes(item)) == len(DELIVERED))
    assert receiver.codes(item) == DELIVERED
    [order] = (await _orders(simulator))["orders"]
    assert (order["callbacks_sent"], order["callbacks_failed"]) == (DELIVERED, [])


async def test_while_vnpost_is_down_the_client_says_unavailable(client, simulator):
    item = (await client.create_order(_order(1), service="delivery")).item_code
    assert await _control(simulator, "POST", "down", {"seconds": 0.4}) == (200, {"down_seconds": 0.4})
    with pytest.raises(PostalUnavailable, match="HTTP 503"):
        await client.create_order(_order(2), service="delivery")
    with pytest.raises(PostalUnavailable):
        await client.track(item)
    assert len((await _orders(simulator))["orders"]) == 1  # the control endpoints stay up
    await asyncio.sleep(0.4)
    await client.create_order(_order(2), service="delivery")


async def test_bad_control_requests_are_refused(simulator):
    assert (await _control(simulator, "POST", "scenario", {"scenario": "lost"}))[0] == 400
    assert (await _control(simulator, "POST", "down", {"seconds": "mãi mãi"}))[0] == 400
    assert (await _orders(simulator))["scenario"] == "delivered"


async def test_cleanup_stops_the_scenarios_at_once(receiver):
    config = SimulatorConfig(USERNAME, PASSWORD, CUSTOMER, receiver.url, SECRET, tick_seconds=30)
    runner, url = await start_postal_simulator(config)
    async with PostalClient(_config(url)) as client:
        await client.create_order(_order(1), service="delivery")
    started = time.monotonic()
    await runner.cleanup()
    assert time.monotonic() - started < 1.0


# A raw socket server with canned answers: malformed, truncated, silent, refused.


OTHER_ITEM = f"EE00000001{check_digit('00000001')}VN"
GOOD_TOKEN = _json({"token": "t0k3n", "expires_in": 3600})
CASES: dict[str, tuple[bytes | None, bytes | None, type[PostalError]]] = {
    "not-json": (GOOD_TOKEN, _http("200 OK", "<html>Bảo trì</html>".encode(), "text/html"), MalformedAnswer),
    "json-array": (GOOD_TOKEN, _json([]), MalformedAnswer),
    "status-as-number": (
        GOOD_TOKEN,
        _json({"Status": 100, "ItemCode": POOL_NUMBER, "Events": []}),
        MalformedAnswer,
    ),
    "accepted-but-empty": (GOOD_TOKEN, _json({"Status": "100", "Message": "Thành công"}), MalformedAnswer),
    "bad-item-and-event": (
        GOOD_TOKEN,
        _json(
            {
                "Status": "100",
                "ItemCode": "EE123456784VN",
                "Events": [{"ItemCode": POOL_NUMBER, "Status": 14, "TraceDate": "2026-11-23T10:15:00"}],
            }
        ),
        MalformedAnswer,
    ),
    "about-something-else": (
        GOOD_TOKEN,
        _json(
            {
                "Status": "100",
                "OrderNumber": "000.00.10.H26-261121-9999",
                "ItemCode": POOL_NUMBER,
                "Events": [{"ItemCode": OTHER_ITEM, "Status": 14, "TraceDate": "23/11/2026 10:15:00"}],
            }
        ),
        MalformedAnswer,
    ),
    "events-not-a-list": (
        GOOD_TOKEN,
        _json({"Status": "100", "Events": {"ItemCode": POOL_NUMBER}}),
        MalformedAnswer,
    ),
    "refused": (
        GOOD_TOKEN,
        _json({"Status": "101", "Message": "Địa chỉ người nhận không hợp lệ"}),
        PostalRejected,
    ),
    "refused-with-400": (
        GOOD_TOKEN,
        _json({"Status": "101", "Message": "Sai"}, "400 Bad Request"),
        PostalRejected,
    ),
    "http-404-html": (GOOD_TOKEN, _http("404 Not Found", b"<h1>404</h1>", "text/html"), MalformedAnswer),
    "redirect": (GOOD_TOKEN, _http("302 Found", Location="/elsewhere"), MalformedAnswer),
    "too-large": (GOOD_TOKEN, _http("200 OK", b'{"x": "' + b"a" * (2 << 20) + b'"}'), MalformedAnswer),
    "absurd-nesting": (GOOD_TOKEN, _http("200 OK", b"[" * 200_000), MalformedAnswer),
    "http-500": (GOOD_TOKEN, _http("500 Internal Server Error", b"oops", "text/plain"), PostalUnavailable),
    "http-503-json": (GOOD_TOKEN, _json({"Status": "503"}, "503 Service Unavailable"), PostalUnavailable),
    "http-429": (GOOD_TOKEN, _http("429 Too Many Requests"), PostalUnavailable),
    "truncated": (GOOD_TOKEN, _http("200 OK", b'{"Status": ', Content_Length="100"), PostalUnavailable),
    "not-http": (GOOD_TOKEN, b"SSH-2.0-OpenSSH_9.6\r\n\r\n", PostalUnavailable),
    "hang-up": (GOOD_TOKEN, b"", PostalUnavailable),
    "silent": (GOOD_TOKEN, SILENT, PostalUnavailable),
    "always-401": (GOOD_TOKEN, _json({"Status": "401"}, "401 Unauthorized"), PostalUnavailable),
    "token-refused": (_json({"Status": "401"}, "401 Unauthorized"), _json({}), PostalUnavailable),
    "token-not-json": (_http("200 OK", b"token=abc", "text/plain"), _json({}), MalformedAnswer),
    "token-without-expiry": (_json({"token": "t0k3n"}), _json({}), MalformedAnswer),
    "token-silent": (SILENT, _json({}), PostalUnavailable),
}


def _canned(case: str):
    token, api, _ = CASES[case]
    return canned_server("/api/token", token, api)


@pytest.mark.parametrize("operation", ["orders", "tracking"])
@pytest.mark.parametrize("case", list(CASES))
async def test_every_failure_is_a_postal_error(case, operation):
    async with _canned(case) as (fake, url), PostalClient(_config(url, timeout_seconds=0.3)) as client:
        with pytest.raises(CASES[case][2]) as raised:
            if operation == "orders":
                await client.create_order(_order(1), service="delivery")
            else:
                await client.track(POOL_NUMBER)
    assert isinstance(raised.value, PostalError)
    assert "t0k3n" not in str(raised.value)  # no secret in a message that gets logged
    if case == "always-401":  # renewed once, tried once more, and no loop
        assert [path.split("/")[2] for path in fake.paths] == ["token", operation, "token", operation]


async def test_nobody_listening_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with PostalClient(_config(f"http://127.0.0.1:{port}", timeout_seconds=0.5)) as client:
        with pytest.raises(PostalUnavailable, match="cannot talk to VNPost"):
            await client.create_order(_order(1), service="delivery")
        with pytest.raises(PostalUnavailable):
            await client.track(POOL_NUMBER)
