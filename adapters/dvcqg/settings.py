"""Where the National Public Service Portal (DVCQG) is and how the gateway is known to it; built by the gateway
from its settings."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PortalConfig:
    url: str  # base URL of the portal's sync API (the simulator's in the demo and the tests)
    username: str  # the one-stop system's account at the portal, exchanged for a session
    password: str = field(repr=False)  # never in a repr, so never in a log line or a traceback
    unit_code: str  # our system's code at the portal (`madonvi`), sent with every request
    timeout_seconds: float = 10.0  # for every HTTP call, the answer's body included
    batch_size: int = 50  # at most this many dossiers (or progress rows) per DongBoHoSoMC/CapNhatTienDoHoSoMC call

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not self.timeout_seconds > 0:
            raise ValueError("timeout_seconds must be positive")
