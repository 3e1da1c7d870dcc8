"""Where VNPost's BCCI service is and how the gateway is known to it; built by the gateway from its settings."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PostalConfig:
    url: str  # base URL of the BCCI REST service (the simulator's in the demo and the tests)
    customer_code: str  # CustomerCode: the contract under which the gateway sends
    username: str  # exchanged for an access token
    password: str
    callback_secret: bytes  # shared with VNPost: status callbacks are HMAC-SHA256 signed with it
    timeout_seconds: float = 10.0  # for every call
    callback_freshness_seconds: float = 300.0  # |now - callback timestamp| allowed
