"""VNPost BCCI over HTTP: the only module of the postal adapter that does I/O.

Requests are built and answers parsed by `messages`; this module adds the access token (cached until shortly
before it expires, refreshed once on a 401), the time limit on every HTTP call, and the translation of every
lower-level failure into `errors`: nothing else leaves it.
"""

import asyncio
import json
import time
from typing import Any
from urllib.parse import quote

import aiohttp

from adapters.postal import messages
from adapters.postal.errors import MalformedAnswer, PostalError, PostalRejected, PostalUnavailable
from adapters.postal.settings import PostalConfig

MAX_ANSWER_BYTES = 1 << 20  # BCCI answers are small; a larger one is not the protocol
TOKEN_MARGIN_SECONDS = 30.0  # a token is renewed this long before it expires (a tenth of its life if shorter)
_BUSY = frozenset({408, 429})  # "try later", like a 5xx


class _Unauthorized(Exception):
    """A 401: the token (or the credentials) were refused."""


class PostalClient:
    """VNPost's order and tracking operations; one HTTP session, opened on first use, closed by `close()`."""

    def __init__(self, config: PostalConfig) -> None:
        self._config = config
        self._url = config.url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_renew_at = 0.0  # time.monotonic()
        self._token_lock = asyncio.Lock()  # concurrent calls share one token request

    async def __aenter__(self) -> "PostalClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def create_order(self, order: messages.Order, *, service: str) -> messages.OrderAccepted:
        """Order a pickup (`service="pickup"`) or a result delivery (`"delivery"`); VNPost dedupes on the
        order number, so a retry after a lost answer gets the same item number."""
        body = messages.order_request(order, self._config, service=service)
        status, answer = await self._authorized("POST", "/api/orders", body)
        _check_http(status, answer)
        return messages.parse_order_response(answer, order.order_number)

    async def track(self, item_code: str) -> list[messages.TrackingEvent]:
        """Every status event VNPost has for the item, in the order it lists them (for items gone quiet)."""
        status, answer = await self._authorized("GET", f"/api/tracking/{quote(item_code, safe='')}")
        _check_http(status, answer)
        if not isinstance(answer, dict) or not isinstance(answer.get("Status"), str):
            raise MalformedAnswer("a tracking answer is a JSON object with a string Status")
        if answer["Status"] != messages.ACCEPTED:
            raise PostalRejected(f"{answer['Status']}: {answer.get('Message') or 'no reason given'}")
        if not isinstance(answer.get("Events"), list):
            raise MalformedAnswer("a tracking answer carries its Events as a list")
        events = [messages.parse_tracking_event(event) for event in answer["Events"]]
        if any(event.item_code != item_code for event in events):
            raise MalformedAnswer("the tracking answer is about another item")
        return events

    async def _authorized(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One call with the access token; on a 401 the token is renewed and the call made once more."""
        token = await self._current_token()
        try:
            return await self._exchange(method, path, body, token=token)
        except _Unauthorized:
            self._forget(token)
        token = await self._current_token()
        try:
            return await self._exchange(method, path, body, token=token)
        except _Unauthorized:
            self._forget(token)
            raise PostalUnavailable("VNPost refused a freshly issued access token") from None

    def _forget(self, token: str) -> None:
        if self._token == token:  # another call may have renewed it meanwhile
            self._token = None

    async def _current_token(self) -> str:
        async with self._token_lock:
            if self._token is None or time.monotonic() >= self._token_renew_at:
                self._token = None
                asked_at = time.monotonic()
                token, lifetime = await self._new_token()
                self._token = token
                self._token_renew_at = asked_at + lifetime - min(TOKEN_MARGIN_SECONDS, lifetime / 10)
            return self._token

    async def _new_token(self) -> tuple[str, float]:
        credentials = {"username": self._config.username, "password": self._config.password}
        try:
            status, answer = await self._exchange("POST", "/api/token", credentials, token=None)
        except _Unauthorized:
            # Not the order's fault: an operator fixes the credentials and the retries go through.
            raise PostalUnavailable("VNPost refused the username or password") from None
        if not 200 <= status < 300:
            raise MalformedAnswer(f"unexpected HTTP {status} for an access token")
        if not isinstance(answer, dict):
            raise MalformedAnswer("a token answer is a JSON object")
        token, lifetime = answer.get("token"), answer.get("expires_in")
        if not isinstance(token, str) or not token or not token.isprintable():
            raise MalformedAnswer("the token answer has no token")
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or not 0 < lifetime < 10**9:
            raise MalformedAnswer("the token answer has no positive expires_in")
        return token, float(lifetime)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"Accept": "application/json"})
        return self._session

    async def _exchange(self, method: str, path: str, body: Any, *, token: str | None) -> tuple[int, Any]:
        """One HTTP request within config.timeout_seconds: (status, decoded JSON). Transport failures and
        5xx are PostalUnavailable, a 401 is _Unauthorized, an answer that is not JSON is MalformedAnswer."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        try:
            async with asyncio.timeout(self._config.timeout_seconds):
                async with self._http().request(
                    method, self._url + path, json=body, headers=headers, allow_redirects=False
                ) as answer:
                    status = answer.status
                    if status >= 500 or status in _BUSY:
                        raise PostalUnavailable(f"HTTP {status} from VNPost")
                    if status == 401:
                        raise _Unauthorized
                    raw = await _read_limited(answer)
        except (PostalError, _Unauthorized):
            raise
        except TimeoutError as exc:
            raise PostalUnavailable(f"VNPost did not answer within {self._config.timeout_seconds:g} s") from exc
        except Exception as exc:  # aiohttp.ClientError, OSError, and whatever else the transport raises
            # str, not repr: an aiohttp error's repr carries the request headers, the bearer token among them.
            raise PostalUnavailable(f"cannot talk to VNPost: {type(exc).__name__}: {exc}") from exc
        try:
            return status, json.loads(raw)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, absurd nesting
            raise MalformedAnswer(f"HTTP {status}: the answer is not JSON") from exc


async def _read_limited(answer: aiohttp.ClientResponse) -> bytes:
    chunks, size = [], 0
    async for chunk in answer.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise MalformedAnswer(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_http(status: int, answer: Any) -> None:
    """A 2xx goes to the parser; so does a refusal carried with another status (the parser raises
    PostalRejected with VNPost's reason). Anything else is not the protocol."""
    if 200 <= status < 300:
        return
    if isinstance(answer, dict) and isinstance(answer.get("Status"), str) and answer["Status"] != messages.ACCEPTED:
        return
    raise MalformedAnswer(f"unexpected HTTP {status} from VNPost")
