"""Where the population database is and which keys speak to it; built by the gateway from its settings."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class IdentityConfig:
    url: str  # SOAP endpoint; its WSDL is at url + "?wsdl"
    key_file: Path  # the gateway's private key (PEM): signs requests
    cert_file: Path  # its certificate (PEM), sent in ds:KeyInfo
    trusted_certs: tuple[Path, ...]  # pinned register certificates; several during a rotation
    timeout_seconds: float = 3.0  # for every call, WSDL included
    freshness_seconds: float = 120.0  # |now - ThoiGian| allowed
    service_code: str = "MOTCUA"  # MaDVC
    unit_code: str = "MOTCUA-GW"  # MaDonVi

    @property
    def wsdl_url(self) -> str:
        return self.url + "?wsdl"
