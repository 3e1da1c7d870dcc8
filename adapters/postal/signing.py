"""Status callbacks are signed with HMAC-SHA256 over `<timestamp>.<body>` with the secret shared with VNPost,
in `X-VNPost-Signature: sha256=<hex>` beside `X-VNPost-Timestamp: <unix seconds>`. Binding the timestamp to
the body makes a captured callback useless once it is stale."""

import hashlib
import hmac
from collections.abc import Mapping

from adapters.postal.errors import BadSignature, StaleCallback, UnsignedCallback

SIGNATURE_HEADER = "X-VNPost-Signature"
TIMESTAMP_HEADER = "X-VNPost-Timestamp"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, now: float, freshness_seconds: float) -> None:
    """Raise the BadCallback that says why this callback must not be believed; return if it may."""
    signature, timestamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise UnsignedCallback("missing signature or timestamp")
    if not timestamp.isascii() or not timestamp.isdigit():
        raise UnsignedCallback("timestamp is not unix seconds")
    if not hmac.compare_digest(signature, sign(secret, int(timestamp), body)):
        raise BadSignature("signature does not match the body")
    if abs(now - int(timestamp)) > freshness_seconds:
        raise StaleCallback(f"timestamp {timestamp} is outside the freshness window")
