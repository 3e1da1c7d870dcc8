"""Demo key pairs and self-signed certificates for the population-database link.

gateway.key/.crt      the gateway signs its requests; the simulator pins gateway.crt
register.key/.crt     the (simulated) register signs its answers; the gateway pins register.crt
register-next.key/.crt a second register certificate, to rehearse rotation (pin both, then drop the old)
"""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

DEMO_PAIRS = {
    "gateway": "motcua-gateway (demo)",
    "register": "CSDL quốc gia về dân cư (simulator)",
    "register-next": "CSDL quốc gia về dân cư (simulator, next key)",
}


def generate_pair(common_name: str, days: int = 730) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A fresh RSA-2048 key and a self-signed certificate for it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    path.chmod(0o600)


def create_demo_keys(directory: Path) -> dict[str, Path]:
    """Write the demo key pairs into `directory` unless they are there already; returns every file by name
    ("gateway.key", "gateway.crt", "register.key", ...). Keys are mode 0600."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for stem, common_name in DEMO_PAIRS.items():
        key_path, cert_path = directory / f"{stem}.key", directory / f"{stem}.crt"
        if not (key_path.exists() and cert_path.exists()):
            key, certificate = generate_pair(common_name)
            _write_private(
                key_path,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            )
            cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        files[key_path.name] = key_path
        files[cert_path.name] = cert_path
    return files
