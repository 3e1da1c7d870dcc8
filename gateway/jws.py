"""Compact JWS (RFC 7515) signed with EdDSA over Ed25519 (RFC 8037), with `cryptography` only.

Agency deliveries carry a *detached* JWS (RFC 7515 appendix F): the token's payload part is empty and the
payload is the exact HTTP body, so a large dossier is not repeated in a header. `sign(..., detached=True)`
and `verify(token, jwks, detached_payload=body)` handle that form; the attached form works too.
"""

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG = "EdDSA"


class JWSError(ValueError):
    """A token that is malformed, signed by a key not published, or whose signature does not match."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    if "=" in text:
        raise JWSError("base64url parts must not be padded")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JWSError(f"bad base64url: {exc}") from None


def raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """kid: the first 16 hex characters of the SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(raw_public(public_key)).hexdigest()[:16]


def jwk(public_key: Ed25519PublicKey, kid: str | None = None) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(raw_public(public_key)),
        "kid": kid or key_id(public_key),
        "alg": ALG,
        "use": "sig",
    }


def public_key_from_jwk(entry: dict[str, Any]) -> Ed25519PublicKey:
    if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519" or not isinstance(entry.get("x"), str):
        raise JWSError(f"key {entry.get('kid')!r} is not an Ed25519 OKP key")
    raw = b64url_decode(entry["x"])
    if len(raw) != 32:
        raise JWSError(f"key {entry.get('kid')!r} has a bad length")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign(payload: bytes, private_key: Ed25519PrivateKey, kid: str | None = None, *, detached: bool = False) -> str:
    header = {"alg": ALG, "kid": kid or key_id(private_key.public_key()), "typ": "JOSE"}
    protected = b64url(json.dumps(header, separators=(",", ":")).encode())
    encoded_payload = b64url(payload)
    signature = private_key.sign(f"{protected}.{encoded_payload}".encode("ascii"))
    return f"{protected}.{'' if detached else encoded_payload}.{b64url(signature)}"


def header_of(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise JWSError("a compact JWS has three parts")
    try:
        header = json.loads(b64url_decode(parts[0]))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JWSError("the protected header is not JSON") from exc
    if not isinstance(header, dict):
        raise JWSError("the protected header is not a JSON object")
    return header


def verify(token: str, jwks: dict[str, Any], *, detached_payload: bytes | None = None) -> bytes:
    """The payload, when `token` is signed by a key in `jwks` ({"keys": [...]}); JWSError otherwise.

    With `detached_payload`, the token's payload part must be empty (or equal to it) and that payload is
    what is checked."""
    header = header_of(token)
    protected, encoded_payload, encoded_signature = token.split(".")
    if header.get("alg") != ALG:
        raise JWSError(f"unsupported alg {header.get('alg')!r} (only {ALG})")
    if header.get("crit"):
        raise JWSError("critical header parameters are not supported")
    kid = header.get("kid")
    matches = [entry for entry in jwks.get("keys", []) if isinstance(entry, dict) and entry.get("kid") == kid]
    if not matches:
        raise JWSError(f"unknown kid {kid!r}: not among the published keys")
    if detached_payload is not None:
        if encoded_payload and b64url_decode(encoded_payload) != detached_payload:
            raise JWSError("the attached payload differs from the detached one")
        encoded_payload, payload = b64url(detached_payload), detached_payload
    else:
        payload = b64url_decode(encoded_payload)
    try:
        public_key_from_jwk(matches[0]).verify(
            b64url_decode(encoded_signature), f"{protected}.{encoded_payload}".encode("ascii")
        )
    except InvalidSignature:
        raise JWSError(f"bad signature (kid {kid})") from None
    return payload


# --- keys on disk ------------------------------------------------------------------------------------------


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file holding either the public key or the private key."""
    data = Path(path).read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key


def create_key_file(path: Path) -> Ed25519PrivateKey:
    """Write a new Ed25519 private key (PKCS#8 PEM, mode 0600) and its public key next to it (.pub.pem)."""
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    path.with_suffix(".pub.pem").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return key
