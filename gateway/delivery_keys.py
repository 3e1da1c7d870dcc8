"""The key that signs agency deliveries, and the public keys published with it (rotation with overlap).

Rotation: make a new key; publish it next to the current one (MOTCUA_DELIVERY_PUBLISHED_KEYS) so agencies
cache it; switch MOTCUA_DELIVERY_KEY_FILE to it and list the old one as published until no delivery signed
with it can still be in flight or retried; then drop the old one.

Until the settings exist (the lead adds them to gateway/settings.py), they are read with `getattr`:
  delivery_key_file: Path | None             current signing key (Ed25519 PEM). Unset: a demo key in
                                             <data_dir>/keys/delivery.key, created if missing.
  delivery_published_keys: list[Path]        further keys (public or private PEM) still published.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway import jws

log = structlog.get_logger(__name__)

DEMO_KEY_NAME = "delivery.key"


@dataclass(frozen=True)
class DeliveryKeys:
    """Where the keys are: the signing key and the extra public keys published during a rotation."""

    signing_key_file: Path
    published_key_files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class LoadedDeliveryKeys:
    signing_key: Ed25519PrivateKey
    kid: str
    published: dict[str, Ed25519PublicKey]  # kid -> public key, the signing key's first

    def sign(self, payload: bytes, *, detached: bool = True) -> str:
        return jws.sign(payload, self.signing_key, self.kid, detached=detached)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [jws.jwk(key, kid) for kid, key in self.published.items()]}


def load_delivery_keys(keys: DeliveryKeys) -> LoadedDeliveryKeys:
    signing = jws.load_private_key(keys.signing_key_file)
    kid = jws.key_id(signing.public_key())
    published = {kid: signing.public_key()}
    for path in keys.published_key_files:
        public = jws.load_public_key(path)
        published.setdefault(jws.key_id(public), public)
    return LoadedDeliveryKeys(signing, kid, published)


def configured_keys(settings: Any) -> DeliveryKeys:
    """DeliveryKeys from the settings (see the module docstring); a demo key when none is configured."""
    key_file = settings.delivery_key_file
    published = tuple(Path(p) for p in settings.delivery_published_keys)
    if key_file is None:
        key_file = Path(settings.data_dir) / "keys" / DEMO_KEY_NAME
        if not key_file.exists():
            jws.create_key_file(key_file)
            log.warning("delivery.demo_key_created", path=str(key_file))
    return DeliveryKeys(Path(key_file), published)


def keys_for(services: Any) -> LoadedDeliveryKeys:
    """The loaded keys of this process, kept on `services` after the first use."""
    loaded = services.delivery_keys
    if loaded is None:
        loaded = load_delivery_keys(configured_keys(services.settings))
        services.delivery_keys = loaded
    return loaded
