"""The population database over signed SOAP: the only module of identity that does I/O.

zeep builds and sends the requests from the WSDL (fetched once, asynchronously, when the client is
created); a zeep plugin signs every request (egress) and verifies every answer against the pinned
certificates (ingress), handing zeep only what the signature covers. Every lower-level error (httpx,
zeep, lxml, timeouts) is translated here into identity.errors; nothing else leaves this module.
"""

import asyncio
import io
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import zeep
import zeep.exceptions
from lxml import etree
from zeep.plugins import Plugin
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport

from identity.errors import (
    IdentityError,
    IdentityFault,
    IdentityUnavailable,
    MalformedAnswer,
)
from identity.messages import TNS, check_fresh, parse_answer, parse_ping, request_fields
from identity.model import CitizenQuery, RegisterAnswer
from identity.settings import IdentityConfig
from identity.signing import SOAP_ENV, EnvelopeSigner, EnvelopeVerifier, VerifiedEnvelope

_BINDING = f"{{{TNS}}}DichVuDanCuBinding"


@dataclass
class _Exchange:
    """What one call saw on the wire, filled by the transport and the plugin (same task, via a ContextVar)."""

    raw_answer: bytes | None = None
    status: int | None = None
    verified: VerifiedEnvelope | None = None


_EXCHANGE: ContextVar[_Exchange | None] = ContextVar("identity_exchange", default=None)


class _SigningPlugin(Plugin):
    def __init__(self, signer: EnvelopeSigner, verifier: EnvelopeVerifier) -> None:
        self._signer = signer
        self._verifier = verifier

    def egress(self, envelope, http_headers, operation, binding_options):  # type: ignore[no-untyped-def]
        return self._signer.sign(envelope), http_headers

    def ingress(self, envelope, http_headers, operation):  # type: ignore[no-untyped-def]
        if envelope.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault") is not None:
            return envelope, http_headers  # a fault carries nothing we trust; zeep raises it as Fault
        exchange = _EXCHANGE.get()
        if exchange is not None and exchange.status != 200:
            raise IdentityUnavailable(f"HTTP {exchange.status} from the population database")
        verified = self._verifier.verify(envelope)  # UnsignedAnswer / BadSignature / MalformedAnswer
        if exchange is not None:
            exchange.verified = verified
        return verified.envelope, http_headers  # zeep reads only what was signed


class _RecordingTransport(AsyncTransport):
    """zeep's httpx transport, keeping the raw answer bytes as evidence."""

    async def post_xml(self, address, envelope, headers):  # type: ignore[no-untyped-def]
        response = await super().post_xml(address, envelope, headers)
        if response.status_code not in (200, 500):  # SOAP 1.1: 200 for answers, 500 for faults
            raise IdentityUnavailable(f"HTTP {response.status_code} from the population database")
        exchange = _EXCHANGE.get()
        if exchange is not None:
            exchange.raw_answer = response.content
            exchange.status = response.status_code
        return response


class _NoNetwork(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"synchronous fetch of {request.url} refused: the WSDL must be self-contained")


def _translate(exc: Exception) -> IdentityError:
    """The identity error a lower-level exception means."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return IdentityUnavailable("the population database did not answer in time")
    if isinstance(exc, httpx.HTTPStatusError):
        return IdentityUnavailable(f"HTTP {exc.response.status_code} from the population database")
    if isinstance(exc, httpx.HTTPError | OSError):
        return IdentityUnavailable(f"cannot reach the population database: {exc}")
    if isinstance(exc, zeep.exceptions.Fault):
        return IdentityFault(f"the population database refused the request: {exc.code}: {exc.message}")
    if isinstance(exc, zeep.exceptions.TransportError):
        if exc.status_code == 200:
            return MalformedAnswer(f"unreadable answer: {exc.message}")
        return IdentityUnavailable(f"HTTP {exc.status_code} from the population database")
    if isinstance(exc, zeep.exceptions.Error | etree.LxmlError | ValueError | LookupError):
        return MalformedAnswer(f"answer not as the WSDL promises: {exc}")
    return IdentityUnavailable(f"unexpected failure talking to the population database: {exc!r}")


async def _bounded[T](seconds: float, call: Callable[[], Awaitable[T]]) -> T:
    try:
        async with asyncio.timeout(seconds):
            return await call()
    except IdentityError:
        raise
    except Exception as exc:
        raise _translate(exc) from exc


class SoapPopulationRegister:
    """identity.model.PopulationRegister over the signed SOAP service."""

    def __init__(self, config: IdentityConfig, client: zeep.AsyncClient, transport: AsyncTransport) -> None:
        self._config = config
        self._client = client
        self._transport = transport
        # create_service gives a synchronous proxy even on AsyncClient; bind the async one to config.url.
        binding = client.wsdl.bindings[_BINDING]
        self._service = AsyncServiceProxy(client, binding, address=config.url)

    @classmethod
    async def create(
        cls, config: IdentityConfig, *, http_client: httpx.AsyncClient | None = None
    ) -> "SoapPopulationRegister":
        """Load the keys, fetch the WSDL once (url + "?wsdl") and build the zeep client. `http_client` is a
        seam for tests (e.g. an httpx.MockTransport); the register closes it."""
        try:
            signer = EnvelopeSigner.from_files(config.key_file, config.cert_file)
            verifier = EnvelopeVerifier.from_files(config.trusted_certs)
        except (OSError, ValueError) as exc:
            raise IdentityError(f"cannot load the population-database keys: {exc}") from exc
        http = http_client or httpx.AsyncClient(timeout=config.timeout_seconds)
        try:

            async def fetch() -> bytes:
                response = await http.get(config.wsdl_url)
                response.raise_for_status()
                return response.content

            wsdl = await _bounded(config.timeout_seconds, fetch)
            # zeep loads WSDLs synchronously: it gets the bytes, and a sync client with no network, so that it
            # can never block the event loop (the WSDL is self-contained).
            transport = _RecordingTransport(client=http, wsdl_client=httpx.Client(transport=_NoNetwork()))
            settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
            plugin = _SigningPlugin(signer, verifier)
            try:
                client = zeep.AsyncClient(io.BytesIO(wsdl), transport=transport, plugins=[plugin], settings=settings)
            except Exception as exc:
                raise MalformedAnswer(f"the WSDL at {config.wsdl_url} cannot be used: {exc}") from exc
            return cls(config, client, transport)
        except BaseException:
            await http.aclose()
            raise

    async def _call(self, operation: str, fields: dict[str, Any]) -> tuple[VerifiedEnvelope, bytes]:
        exchange = _Exchange()
        token = _EXCHANGE.set(exchange)
        try:
            await _bounded(self._config.timeout_seconds, lambda: getattr(self._service, operation)(**fields))
        finally:
            _EXCHANGE.reset(token)
        if exchange.verified is None or exchange.raw_answer is None:
            raise MalformedAnswer(f"{operation}: no verified answer")
        return exchange.verified, exchange.raw_answer

    def _check(self, request_id: str, answered_at: datetime, expected_id: str) -> None:
        check_fresh(
            request_id,
            answered_at,
            expected_id=expected_id,
            now=datetime.now(UTC),
            freshness=timedelta(seconds=self._config.freshness_seconds),
        )

    async def _ask(self, operation: str, query: CitizenQuery) -> RegisterAnswer:
        verified, raw = await self._call(operation, request_fields(query))
        answer = parse_answer(verified.envelope, raw)
        self._check(answer.request_id, answer.answered_at, query.request_id)
        if answer.record is not None and answer.record.id_number != query.id_number:
            raise MalformedAnswer("the answer is about another ID number than the one asked")
        return answer

    async def look_up(self, query: CitizenQuery) -> RegisterAnswer:
        """TraCuuThongTinCongDan: the register's record for the ID number, verified."""
        return await self._ask("TraCuuThongTinCongDan", query)

    async def check(self, query: CitizenQuery) -> RegisterAnswer:
        """XacThucThongTinCongDan: does the register hold this ID number with this name and birth (TonTai)?"""
        return await self._ask("XacThucThongTinCongDan", query)

    async def ping(self) -> None:
        """A signed round trip with no personal data (for benchmarks and health checks)."""
        request_id = str(uuid.uuid4())
        verified, _ = await self._call("Ping", {"MaYeuCau": request_id})
        answered_id, answered_at = parse_ping(verified.envelope)
        self._check(answered_id, answered_at, request_id)

    async def close(self) -> None:
        await self._transport.aclose()
