"""One Settings class. Every value comes from a ``SMARTPAY_*`` environment variable.

Nothing here is read at import time: ``Settings()`` is built by ``create_app()`` or the
CLI and passed down explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMARTPAY_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".smartpay"),
        description="Directory holding all local state: SQLite file, keyring, demo keys.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: SQLite file smartpay.db in the data directory. "
        "PostgreSQL: postgresql+asyncpg://user@host/db",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL. When set, CVCs awaiting first authorization are kept there "
        "(encrypted, short TTL) so several API processes can share them.",
    )
    host: str = Field(default="127.0.0.1", description="Address `smartpay serve` binds.")
    port: int = Field(default=8000, description="Port `smartpay serve` binds.")
    log_level: str = Field(default="info", description="Python logging level.")
    metrics_token: str | None = Field(
        default=None,
        description="When set, /metrics answers only 'Authorization: Bearer <token>'. Unset: "
        "open, for a scraper on a private network.",
    )
    otel_exporter: Literal["none", "otlp", "console"] = Field(
        default="none",
        description="OpenTelemetry traces: none, OTLP over HTTP to otel_endpoint, or the "
        "console. Needs the `otel` extra.",
    )
    otel_endpoint: str = Field(
        default="http://127.0.0.1:4318/v1/traces",
        description="Where the OTLP exporter sends spans (an OpenTelemetry Collector).",
    )
    otel_service_name: str = Field(
        default="smartpay", description="service.name of the spans SmartPay sends."
    )
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="Log lines as JSON objects (for log pipelines) or as text (for a "
        "terminal). Each carries the id of the request that caused it.",
    )

    keyring_path: Path | None = Field(
        default=None, description="Local keyring file. Default: keyring.json in the data directory."
    )
    cvc_ttl_seconds: int = Field(
        default=600,
        description="How long a CVC waits for its first authorization before it is wiped.",
    )

    processors: str = Field(
        default="sandbox",
        description="Comma-separated processor names to enable, e.g. 'sandbox,sandbox_eu'. "
        "Each sandbox profile is configured by SMARTPAY_SANDBOX_PROFILES.",
    )
    sandbox_profiles: str = Field(
        default="",
        description="JSON object of sandbox profiles: {name: {latency_ms, failure_rate, "
        "timeout_rate, fee_basis_points, fee_fixed, seed}}. Empty: one profile 'sandbox' "
        "with defaults (no latency or failures, 2.9% + 30).",
    )
    processor_timeout_seconds: float = Field(
        default=10.0, description="A processor call taking longer leaves the attempt unknown."
    )

    settlement_delay_days: int = Field(
        default=2,
        description="Days after capture before funds move from pending to available.",
    )
    idempotency_ttl_hours: int = Field(
        default=24, description="How long an Idempotency-Key and its response are kept."
    )
    max_body_bytes: int = Field(
        default=1_000_000, description="Requests with larger bodies are refused with 413."
    )
    janitor_interval_seconds: float = Field(
        default=5.0, description="How often the worker resolves attempts left unknown."
    )
    run_worker_in_process: bool = Field(
        default=True,
        description="`smartpay serve` also runs the worker loop (the embedded default).",
    )
    stream_commit_lag_seconds: float = Field(
        default=1.0,
        ge=0,
        description="PostgreSQL only: the live event stream sends an event once its id is "
        "this old, so an event whose transaction took its id earlier but committed later is "
        "never skipped by a cursor. SQLite serialises writers, so it streams at once.",
    )
    inbound_webhook_max_bytes: int = Field(
        default=256_000,
        description="Inbound processor webhooks with larger bodies are refused with 413.",
    )
    sandbox_webhook_secret: str = Field(
        default="whsec_sandbox_test_only",
        min_length=16,
        description="Master secret from which each sandbox profile derives the key that signs "
        "its webhooks (and that /webhooks/<profile> verifies). The default is public: it is "
        "for development and tests, where the sandbox moves no real money. Webhooks are "
        "never trusted for outcomes anyway: SmartPay asks the processor (lookup) before "
        "applying one.",
    )
    create_demo_merchant: bool = Field(
        default=True, description="On first start, create a demo merchant and show its keys."
    )

    webhook_allow_http: bool = Field(
        default=True,
        description="Accept http:// webhook URLs (handy in local test mode). Set false in "
        "production to require https.",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Accept webhook URLs on loopback addresses (127.0.0.0/8, ::1, "
        "localhost), for development and tests. Private, link-local and metadata "
        "addresses are always refused.",
    )
    webhook_secret_overlap_hours: float = Field(
        default=24,
        description="After a secret rotation, how long the old secret keeps signing too.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, description="A webhook endpoint taking longer to answer has failed."
    )
    webhook_retry_hours: float = Field(
        default=72, description="How long a delivery is retried before it is dead-lettered."
    )
    webhook_disable_after_hours: float = Field(
        default=72, description="An endpoint failing without a success this long is disabled."
    )
    webhook_concurrency: int = Field(
        default=32, description="Webhook requests one worker sends at once."
    )
    webhook_lease_seconds: int = Field(
        default=300,
        ge=1,
        description="How long deliveries claimed by a worker stay reserved for it. Longer "
        "than a delivery round can last; after a worker crash its claimed deliveries come "
        "due again this much later.",
    )
    webhook_poll_interval_seconds: float = Field(
        default=0.2,
        description="How often the worker looks for new events and due webhook deliveries.",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'smartpay.db').resolve()}"

    @property
    def resolved_keyring_path(self) -> Path:
        return self.keyring_path or self.data_dir / "keyring.json"

    @property
    def demo_keys_path(self) -> Path:
        return self.data_dir / "demo_keys.json"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")
