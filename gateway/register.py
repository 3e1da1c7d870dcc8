"""The population register as the gateway holds it: one client per process, its WSDL loaded once.

If the register is unreachable when the gateway starts, intake still runs (identity pending) and the
client is created on the first look-up that finds the register back.
"""

import asyncio

import structlog
from identity.client import SoapPopulationRegister
from identity.settings import IdentityConfig

from gateway.settings import Settings
from identity.errors import IdentityError, IdentityUnavailable
from identity.model import CitizenQuery, RegisterAnswer

log = structlog.get_logger(__name__)


def identity_config(settings: Settings) -> IdentityConfig | None:
    if not settings.identity_url:
        return None
    if not (settings.identity_key_file and settings.identity_cert_file and settings.identity_trusted_certs):
        raise ValueError(
            "MOTCUA_IDENTITY_URL needs MOTCUA_IDENTITY_KEY_FILE, MOTCUA_IDENTITY_CERT_FILE and "
            "MOTCUA_IDENTITY_TRUSTED_CERTS (`motcua keys create` makes demo ones)"
        )
    return IdentityConfig(
        url=settings.identity_url,
        key_file=settings.identity_key_file,
        cert_file=settings.identity_cert_file,
        trusted_certs=tuple(settings.identity_trusted_certs),
        timeout_seconds=settings.identity_timeout_seconds,
        freshness_seconds=settings.identity_freshness_seconds,
        service_code=settings.identity_service_code,
    )


class RegisterConnection:
    """A PopulationRegister that creates its SOAP client once, when the register first answers."""

    def __init__(self, config: IdentityConfig) -> None:
        self._config = config
        self._client: SoapPopulationRegister | None = None
        self._creating = asyncio.Lock()

    async def _ensure(self) -> SoapPopulationRegister:
        if self._client is not None:
            return self._client
        async with self._creating:
            if self._client is None:
                self._client = await SoapPopulationRegister.create(self._config)
                log.info("identity.client_ready", url=self._config.url)
        return self._client

    async def start(self) -> None:
        try:
            await self._ensure()
        except IdentityError as exc:
            log.warning("identity.register_unreachable_at_start", error=exc.code)

    async def look_up(self, query: CitizenQuery) -> RegisterAnswer:
        try:
            client = await self._ensure()
        except IdentityError:
            raise
        except Exception as exc:  # anything else while fetching the WSDL is an unavailable register
            raise IdentityUnavailable(f"cannot load the register's WSDL: {type(exc).__name__}") from exc
        return await client.look_up(query)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
