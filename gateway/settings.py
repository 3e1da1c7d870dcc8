"""Settings, read once from `MOTCUA_*` environment variables and passed into `create_app`.

Every field is documented in the README's settings table; keep the two in step.
"""

import ipaddress
from datetime import date
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: `motcua run` starts a private server in the data directory.",
    )
    data_dir: Path = Field(default=Path(".data"), description="Embedded PostgreSQL, demo credentials, secrets.")
    host: str = Field(default="127.0.0.1", description="Address the gateway listens on.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port the gateway listens on.")
    secret_key: SecretStr | None = Field(
        default=None,
        description="Server secret (>= 32 chars): keys the PIN hashes and encrypts stored idempotent answers. "
        "`motcua run` generates one in the data directory when unset.",
    )
    personal_data_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Keys (>= 32 chars each, JSON list) encrypting ID and phone numbers at rest: the first "
        "encrypts, all decrypt (rotation). Empty: one derived from the server secret; `motcua run` generates one.",
    )
    catalog_dir: Path | None = Field(
        default=None,
        description="Folder with procedures.jsonl and agencies.jsonl. Unset: mapping/data/catalog.",
    )
    extra_days_off: list[date] = Field(
        default_factory=list,
        description="Announced days off (YYYY-MM-DD) not yet in the holidays package, as a JSON list.",
    )
    days_off_refresh_seconds: float = Field(
        default=60,
        gt=0,
        description="How often each gateway process reloads the days off stored with `motcua calendar`.",
    )
    postal_transit_hours: float = Field(
        default=16.0,
        ge=0,
        description="Working hours a sealed dossier is assumed to spend in the post before the agency has it.",
    )
    identity_url: str | None = Field(
        default=None,
        description="SOAP endpoint of the population database (WSDL at ?wsdl). Unset: identity is not checked.",
    )
    identity_key_file: Path | None = Field(default=None, description="Gateway's private key (PEM) signing requests.")
    identity_cert_file: Path | None = Field(default=None, description="Gateway's certificate (PEM).")
    identity_trusted_certs: list[Path] = Field(
        default_factory=list, description="Pinned certificates of the population database (several: rotation)."
    )
    identity_timeout_seconds: float = Field(default=3.0, gt=0, description="Longest wait for one look-up.")
    identity_freshness_seconds: float = Field(default=120.0, gt=0, description="Oldest answer timestamp accepted.")
    identity_cache_seconds: float = Field(default=86_400.0, ge=0, description="How long a verification is reused.")
    identity_wait_limit_seconds: float = Field(
        default=14_400.0, ge=0, description="How long forwarding waits for a pending verification before going on."
    )
    identity_service_code: str = Field(default="MOTCUA", description="MaDVC sent with every look-up.")
    delivery_key_file: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM) signing pushes to agencies. Unset: a demo key in the data directory.",
    )
    delivery_published_keys: list[Path] = Field(
        default_factory=list, description="Older keys still published in the JWKS during a rotation (PEM)."
    )
    delivery_timeout_seconds: float = Field(default=10.0, gt=0, description="Longest wait for an agency's answer.")
    overdue_scan_seconds: float = Field(
        default=300.0, gt=0, description="How often a worker looks for overdue dossiers."
    )
    worker_lease_seconds: float = Field(
        default=60.0, gt=0, description="How long a claimed message is a worker's before another may take it."
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port a `motcua worker` serves its own GET /metrics (deliveries) and /healthz on, at "
        "MOTCUA_HOST; unset: none.",
    )
    worker_poll_seconds: float = Field(default=1.0, gt=0, description="How often a worker looks for due work.")
    outbox_retry_budget_seconds: float = Field(
        default=259_200.0,
        gt=0,
        description="Age (since enqueued) past which a failing outbox message is dead-lettered, not retried.",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest accepted request body (document uploads: below)."
    )
    client_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Longest the gateway waits on a client: for a whole JSON or form body, for each 64 KiB of "
        "an upload (408 request.timeout), or for the client to take any of an answer (connection dropped).",
    )
    keepalive_timeout_seconds: float = Field(
        default=75.0,
        gt=0,
        description="An open connection without a complete request head this long (idle between requests, or "
        "trickling its headers) is closed.",
    )
    documents_dir: Path | None = Field(
        default=None, description="Content store for uploaded documents; unset: `<MOTCUA_DATA_DIR>/documents`."
    )
    document_max_bytes: int = Field(default=52_428_800, ge=1024, description="Largest document file (50 MiB).")
    dossier_documents_max_bytes: int = Field(
        default=209_715_200, ge=1024, description="All of one dossier's component files together (200 MiB)."
    )
    document_retention_days: int = Field(
        default=365,
        ge=1,
        description="`motcua documents purge` removes the files of dossiers finished longer ago (hashes are kept).",
    )
    postal_url: str | None = Field(
        default=None, description="VNPost BCCI service; unset: mailed results wait in the outbox (`make run` sets it)."
    )
    postal_customer_code: str = Field(default="MOTCUA", description="CustomerCode of the gateway's VNPost contract.")
    postal_username: str = Field(default="motcua", description="Exchanged with the password for an access token.")
    postal_password: SecretStr = Field(default=SecretStr(""), description="VNPost account password.")
    postal_callback_secret: SecretStr = Field(
        default=SecretStr(""), description="Shared with VNPost: status callbacks are HMAC-SHA256 signed with it."
    )
    postal_timeout_seconds: float = Field(default=10.0, gt=0, description="Longest wait for one VNPost call.")
    postal_callback_freshness_seconds: float = Field(
        default=300.0, gt=0, description="Oldest callback timestamp accepted."
    )
    postal_item_prefixes: list[str] = Field(
        default=["RR"], description="S10 prefixes of the item-number pool allocated to the gateway, in order."
    )
    postal_quiet_seconds: float = Field(
        default=172_800.0, gt=0, description="An item without news this long is polled (tracking look-up)."
    )
    postal_poll_seconds: float = Field(default=600.0, gt=0, description="How often the worker looks for quiet items.")
    dvcqg_url: str | None = Field(
        default=None,
        description="National Public Service Portal sync API; unset: sync messages wait in the outbox "
        "(`make run` sets it).",
    )
    dvcqg_username: str = Field(default="motcua", description="The one-stop system's account at the portal.")
    dvcqg_password: SecretStr = Field(default=SecretStr(""), description="Its password, exchanged for a session.")
    dvcqg_unit_code: str = Field(
        default="000.00.00.H00", description="Our system's code at the portal (`madonvi`), sent with every call."
    )
    dvcqg_timeout_seconds: float = Field(default=10.0, gt=0, description="Longest wait for one portal call.")
    dvcqg_file_hosts: list[str] = Field(
        default=[],
        description="Hosts the files of online dossiers are fetched from; empty: the host of MOTCUA_DVCQG_URL "
        "(any host when that is unset too).",
    )
    dvcqg_batch_size: int = Field(default=50, ge=1, description="Most dossiers or progress rows per portal call.")
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    db_command_timeout: float = Field(default=5.0, gt=0, description="Seconds before a query is abandoned.")
    db_connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to open a connection.")
    db_acquire_timeout: float = Field(
        default=5.0, gt=0, description="Seconds a request waits for a pooled connection before answering 503."
    )
    idempotency_lease_seconds: int = Field(
        default=60, ge=1, description="A key still in flight after this long is taken to be abandoned."
    )
    idempotency_ttl_hours: int = Field(default=24, ge=1, description="How long an answer can be replayed.")
    trusted_proxies: list[str] = Field(
        default=[],
        description="Addresses or CIDR ranges of our own reverse proxies (JSON list): from them, the client's "
        "address is read from X-Forwarded-For (wrong-PIN limits count per client). Empty: the header is ignored.",
    )
    tracking_max_failures: int = Field(default=5, ge=1, description="Wrong PINs allowed per window.")
    tracking_window_seconds: int = Field(default=900, ge=1)
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#]+(/[^?#]*)?$",
        description="The gateway's address as citizens reach it, for the QR code on printed receipts. "
        "Unset: taken from each request's Host.",
    )
    receipt_link_hours: int = Field(
        default=168,
        ge=1,
        description="How long the printable receipt link in an intake answer works (it carries the PIN, sealed).",
    )
    operator_session_hours: int = Field(
        default=8,
        ge=1,
        le=168,
        description="How long an operator stays signed in to the /giam-sat monitoring page (an admin key's session).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Bearer token (>= 32 chars) the operators' Prometheus sends to GET /metrics. "
        "Unset: /metrics refuses every request.",
    )
    log_level: str = Field(default="INFO")
    log_json: bool | None = Field(default=None, description="JSON logs; unset: JSON unless on a terminal.")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            ipaddress.ip_network(entry.strip(), strict=False)  # ValueError names the bad entry
        return entries

    @property
    def content_dir(self) -> Path:
        return self.documents_dir or self.data_dir / "documents"
