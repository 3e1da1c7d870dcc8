"""Secrets: API keys (stored as SHA-256), tracking PINs (keyed hash), sealed stored answers."""

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken

KEY_SCHEME = "mc"


def new_api_key() -> tuple[str, str]:
    """Return (prefix, key). The prefix is public (listing, look-up); the key is shown once."""
    prefix = secrets.token_hex(6)
    return prefix, f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"


def key_prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or len(parts[1]) != 12:
        return None
    return parts[1]


def hash_api_key(key: str) -> bytes:
    # Keys carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode()).digest()


def new_pin() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def hash_pin(server_secret: bytes, salt: bytes, pin: str) -> bytes:
    # A 6-digit PIN falls to brute force under any unkeyed hash; keyed with the server secret, a copy of
    # the database alone does not reveal it, and checking stays cheap on the tracking hot path.
    return hmac.new(server_secret, salt + pin.encode(), hashlib.sha256).digest()


def pin_matches(server_secret: bytes, salt: bytes, pin: str, expected: bytes) -> bool:
    return hmac.compare_digest(hash_pin(server_secret, salt, pin), expected)


class Sealer:
    """Authenticated encryption (Fernet) under a key derived from the server secret, one key per purpose so
    a token sealed for one use never opens for another."""

    def __init__(self, server_secret: bytes, purpose: bytes = b"sealed-answers") -> None:
        derived = hashlib.sha256(b"motcua/" + purpose + b"/v1" + server_secret).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, data: bytes, *, at: int | None = None) -> bytes:
        """`at` (Unix time) dates the token; tests use it to make an expired one."""
        return self._fernet.encrypt(data) if at is None else self._fernet.encrypt_at_time(data, at)

    def open(self, token: bytes, max_age_seconds: int | None = None) -> bytes | None:
        """The sealed data, or None when the token is forged, damaged or older than `max_age_seconds`."""
        try:
            return self._fernet.decrypt(token, ttl=max_age_seconds)
        except InvalidToken:
            return None
