"""Personal data at rest: ID and phone numbers encrypted, found again by a keyed hash.

Every JSON value the gateway writes to PostgreSQL passes through `PersonalData.seal`, and every one it reads
through `PersonalData.open` (the pool's jsonb codec, gateway/store/db.py), so the handlers keep working with
plain values and no column, outbox payload or step result holds an ID or phone number in clear. A sealed value
is a string `pd1:{key id}:{base64url(nonce || AES-256-GCM ciphertext)}`; the field's name is the associated
data, so a ciphertext moved to another field does not open. Blobs (the signed SOAP evidence of identity checks)
are sealed the same way as bytes, with their purpose as associated data.

Keys: the first of MOTCUA_PERSONAL_DATA_KEYS encrypts, all of them decrypt (rotation: put the new key first,
run `motcua personal-data reseal`, then drop the old one). Unset, one key is derived from the server secret.
The look-up hash is HMAC-SHA256 under a key derived from the server secret, not from the encryption keys, so
it stays the same through a rotation of those: a dossier is found by its applicant's ID number without the
number being stored.
"""

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import GatewayError

# The JSON keys whose string values are personal data wherever they appear (applicant, postal recipient, ...).
PERSONAL_FIELDS = frozenset({"id_number", "cmnd_number", "phone"})
PREFIX = "pd1:"
_BLOB_PREFIX = b"pd1"
_NONCE_BYTES = 12
_KEY_ID_BYTES = 4
# A JSON text holds a personal field only if it holds one of these (json.dumps' own spelling of the key).
_MARKERS = tuple(f'"{name}"' for name in PERSONAL_FIELDS)


class PersonalDataError(GatewayError):
    """A sealed value that no configured key opens: damaged, moved to another field, or under a dropped key."""

    default_code = "personal_data.unreadable"
    default_title = "Không đọc được dữ liệu cá nhân đã mã hoá"


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return hashlib.sha256(b"motcua/" + purpose + b"/v1" + secret).digest()


def key_from_setting(value: str) -> bytes:
    """A 256-bit key from a configured secret string (>= 32 characters of any kind)."""
    return _derive(value.encode(), b"personal-data")


class PersonalData:
    def __init__(self, keys: Iterable[bytes], lookup_key: bytes) -> None:
        self._keys = [(hashlib.sha256(b"motcua/personal-key-id" + key).digest()[:_KEY_ID_BYTES], key) for key in keys]
        if not self._keys:
            raise ValueError("at least one personal-data key is needed")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in self._keys}
        self.current_key_id = self._keys[0][0].hex()
        self._lookup_key = lookup_key

    @classmethod
    def from_secrets(cls, server_secret: bytes, configured: list[str]) -> "PersonalData":
        keys = [key_from_setting(value) for value in configured] or [_derive(server_secret, b"personal-data")]
        return cls(keys, _derive(server_secret, b"personal-lookup"))

    # Single values.

    def encrypt(self, field: str, value: str) -> str:
        key_id, _ = self._keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, value.encode(), field.encode())
        return f"{PREFIX}{key_id.hex()}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def decrypt(self, field: str, token: str) -> str:
        try:
            _, key_hex, body = token.split(":", 2)
            cipher = self._ciphers[bytes.fromhex(key_hex)]
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], field.encode()).decode()
        except (ValueError, KeyError, InvalidTag) as error:
            raise PersonalDataError(f"Trường '{field}' không giải mã được bằng khoá nào đang cấu hình.") from error

    def is_current(self, token: str) -> bool:
        return token.startswith(f"{PREFIX}{self.current_key_id}:")

    def lookup(self, field: str, value: str) -> bytes:
        """Keyed hash of one value: equal values give equal hashes, and the hash alone gives nothing away."""
        return hmac.new(self._lookup_key, f"{field}|{value.strip()}".encode(), hashlib.sha256).digest()

    # JSON documents: walked, personal fields sealed or opened wherever they are.

    def seal(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: self.encrypt(key, item)
                if key in PERSONAL_FIELDS and isinstance(item, str) and not item.startswith(PREFIX)
                else self.seal(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.seal(item) for item in value]
        return value

    def open(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: self.decrypt(key, item)
                if key in PERSONAL_FIELDS and isinstance(item, str) and item.startswith(PREFIX)
                else self.open(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.open(item) for item in value]
        return value

    def dumps(self, value: Any) -> str:
        """JSON text as stored: personal fields sealed (the walk is skipped when there is none to seal)."""
        text = json.dumps(value)
        return json.dumps(self.seal(value)) if any(marker in text for marker in _MARKERS) else text

    def loads(self, text: str) -> Any:
        value = json.loads(text)
        return self.open(value) if PREFIX in text else value

    def stale(self, text: str) -> bool:
        """Whether stored JSON text holds a personal field in clear or sealed under another key than the first."""
        found: list[bool] = []

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    if key in PERSONAL_FIELDS and isinstance(item, str):
                        found.append(not self.is_current(item))
                    else:
                        walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        if not any(marker in text for marker in _MARKERS):
            return False
        walk(json.loads(text))
        return any(found)

    # Blobs.

    def seal_bytes(self, purpose: str, data: bytes) -> bytes:
        key_id, _ = self._keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        return _BLOB_PREFIX + key_id + nonce + self._ciphers[key_id].encrypt(nonce, data, purpose.encode())

    def open_bytes(self, purpose: str, blob: bytes) -> bytes:
        if not blob.startswith(_BLOB_PREFIX):
            return blob  # stored before encryption at rest; `motcua personal-data reseal` seals it
        key_at = len(_BLOB_PREFIX)
        nonce_at = key_at + _KEY_ID_BYTES
        sealed_at = nonce_at + _NONCE_BYTES
        try:
            cipher = self._ciphers[blob[key_at:nonce_at]]
            return cipher.decrypt(blob[nonce_at:sealed_at], blob[sealed_at:], purpose.encode())
        except (KeyError, InvalidTag) as error:
            raise PersonalDataError(f"Dữ liệu '{purpose}' không giải mã được bằng khoá nào đang cấu hình.") from error

    def blob_is_current(self, blob: bytes) -> bool:
        return blob.startswith(_BLOB_PREFIX + bytes.fromhex(self.current_key_id))
