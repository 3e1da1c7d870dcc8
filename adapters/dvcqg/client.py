"""The National Public Service Portal over HTTP: the only module of the DVCQG adapter that does I/O (its simulator
aside).

Requests are built and answers parsed by `messages`; this module adds the session (one login shared by concurrent
calls, renewed once when the portal answers that it expired), the split of long lists into batches of
config.batch_size, the time limit on every HTTP call, and the translation of every lower-level failure into
`errors`: nothing else leaves it.

Batches go one after the other, in the order given: the portal sees the changes of one dossier in the order they
happened, which is what its status rules (status.py) expect.
"""

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiohttp

from adapters.dvcqg import messages
from adapters.dvcqg.errors import MalformedAnswer, PortalError, PortalUnavailable
from adapters.dvcqg.settings import PortalConfig

LOGIN_PATH = "/api/login"
SERVICE_PATH = "/api/service"
MAX_ANSWER_BYTES = 8 << 20  # a look-up answer for a full batch is far below this; a larger one is not the protocol
_BUSY = frozenset({408, 429})  # "try later", like a 5xx


def _batches[T](items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _session_expired(raw: Any) -> bool:
    if not isinstance(raw, dict):
        return False
    try:
        return messages.parse_answer(raw).error_code == messages.SESSION_INVALID
    except MalformedAnswer:
        return False  # the caller's parser says what is wrong with it


class PortalClient:
    """The portal's sync services; one HTTP session, opened on first use, closed by `close()` (or `async with`)."""

    def __init__(self, config: PortalConfig) -> None:
        self._config = config
        self._url = config.url.rstrip("/")
        self._http_session: aiohttp.ClientSession | None = None
        self._portal_session: str | None = None
        self._login_lock = asyncio.Lock()  # concurrent calls share one login

    async def __aenter__(self) -> "PortalClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        session, self._http_session = self._http_session, None
        if session is not None:
            await session.close()

    async def login(self) -> None:
        """Open a fresh portal session now (otherwise the first call does); SessionRejected if the portal refuses
        the username or password."""
        async with self._login_lock:
            self._portal_session = None
            self._portal_session = await self._new_session()

    async def sync_dossiers(
        self, records: Sequence[messages.DossierRecord], *, updating: bool
    ) -> messages.BatchOutcome:
        """Create (`updating=False`) or update dossiers, config.batch_size per call; one outcome per record, in
        order. A record refused by the portal is an outcome, not an exception: the others still went through."""
        records = tuple(records)
        outcome = messages.BatchOutcome()
        for batch in _batches(records, self._config.batch_size):
            body = messages.sync_request(batch, updating=updating, config=self._config)
            answer = messages.parse_answer(await self._call(body))
            outcome += messages.batch_outcome(answer, [record.code for record in batch])
        return outcome

    async def upsert_dossiers(self, records: Sequence[messages.DossierRecord]) -> messages.BatchOutcome:
        """Create the dossiers, and send those the portal already holds again as updates (what an "already exists"
        answer asks for): the way to sync a dossier without knowing whether an earlier create went through."""
        records = tuple(records)
        created = await self.sync_dossiers(records, updating=False)
        existing = [record for record, each in zip(records, created.outcomes, strict=True) if each.already_exists]
        if not existing:
            return created
        updated = iter((await self.sync_dossiers(existing, updating=True)).outcomes)
        return messages.BatchOutcome(tuple(next(updated) if each.already_exists else each for each in created.outcomes))

    async def update_progress(self, rows: Sequence[messages.ProgressRow]) -> messages.BatchOutcome:
        """Send progress rows (CapNhatTienDoHoSoMC), config.batch_size per call, in order; one outcome per row."""
        rows = tuple(rows)
        outcome = messages.BatchOutcome()
        for batch in _batches(rows, self._config.batch_size):
            answer = messages.parse_answer(await self._call(messages.progress_request(batch, self._config)))
            outcome += messages.batch_outcome(answer, [row.code for row in batch])
        return outcome

    async def lookup(
        self,
        codes: Sequence[str] | None = None,
        *,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
    ) -> list[messages.PortalDossier]:
        """What the portal holds: the listed dossiers it knows (unknown codes are simply absent), or those received
        in [received_from, received_to)."""
        if codes is None:
            body = messages.lookup_request(received_from=received_from, received_to=received_to, config=self._config)
            return messages.parse_lookup(await self._call(body))
        if isinstance(codes, str):
            raise ValueError("codes is a sequence of dossier codes, not one string")
        held: list[messages.PortalDossier] = []
        for batch in _batches(tuple(codes), self._config.batch_size):
            body = messages.lookup_request(batch, config=self._config)
            held += messages.parse_lookup(await self._call(body))
        return held

    async def _call(self, body: dict[str, Any]) -> Any:
        """One service call with the session; when the portal says the session expired, one new login and the
        call once more. A fresh session refused as well is the portal misbehaving: PortalUnavailable."""
        session = await self._current_session()
        raw = await self._post(SERVICE_PATH, {**body, "session": session})
        if not _session_expired(raw):
            return raw
        self._forget(session)
        session = await self._current_session()
        raw = await self._post(SERVICE_PATH, {**body, "session": session})
        if _session_expired(raw):
            self._forget(session)
            raise PortalUnavailable("the portal refused a freshly opened session")
        return raw

    def _forget(self, session: str) -> None:
        if self._portal_session == session:  # another call may have logged in again meanwhile
            self._portal_session = None

    async def _current_session(self) -> str:
        async with self._login_lock:
            if self._portal_session is None:
                self._portal_session = await self._new_session()
            return self._portal_session

    async def _new_session(self) -> str:
        return messages.parse_login(await self._post(LOGIN_PATH, messages.login_request(self._config)))

    def _http(self) -> aiohttp.ClientSession:
        if self._http_session is None or self._http_session.closed:
            self._http_session = aiohttp.ClientSession(headers={"Accept": "application/json"})
        return self._http_session

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        """One HTTP POST within config.timeout_seconds → the decoded JSON. Transport failures, 5xx/408/429,
        redirects and oversize answers are PortalUnavailable; an answer that is not JSON, or another status without
        the portal's error_code, is MalformedAnswer. Nothing else leaves."""
        try:
            async with asyncio.timeout(self._config.timeout_seconds):
                async with self._http().post(self._url + path, json=body, allow_redirects=False) as answer:
                    status = answer.status
                    if status >= 500 or status in _BUSY:
                        raise PortalUnavailable(f"HTTP {status} from the portal")
                    if 300 <= status < 400:
                        raise PortalUnavailable(f"HTTP {status}: the portal redirects instead of answering")
                    raw = await _read_limited(answer)
        except PortalError:
            raise
        except TimeoutError as exc:
            raise PortalUnavailable(f"the portal did not answer within {self._config.timeout_seconds:g} s") from exc
        except Exception as exc:  # aiohttp.ClientError, OSError, and whatever else the transport raises
            # str, not repr: an aiohttp error's repr carries request details; the session travels in the body.
            raise PortalUnavailable(f"cannot talk to the portal: {type(exc).__name__}: {exc}") from exc
        try:
            decoded = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, absurd nesting
            raise MalformedAnswer(f"HTTP {status}: the answer is not JSON") from exc
        if not 200 <= status < 300 and not (isinstance(decoded, dict) and "error_code" in decoded):
            raise MalformedAnswer(f"unexpected HTTP {status} from the portal")
        return decoded  # a refusal carried with a 4xx goes to the parser like any answer


async def _read_limited(answer: aiohttp.ClientResponse) -> bytes:
    chunks, size = [], 0
    async for chunk in answer.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise PortalUnavailable(f"the portal's answer is larger than {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
