"""One Settings class. Every value comes from a ``SMARTPAY_*`` environment variable.

Nothing here is read at import time: ``Settings()`` is built by ``create_app()`` or the
CLI and passed down explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    alert_window_seconds: int = Field(
        default=300, ge=10, description="Alerts judge the figures of this recent window."
    )
    alert_min_samples: int = Field(
        default=20,
        ge=1,
        description="Fewer payments or requests than this in the window are not judged.",
    )
    alert_payment_failure_rate: float = Field(
        default=0.05, description="A merchant's failed share of decided charges above this alerts."
    )
    alert_error_rate: float = Field(
        default=0.01, description="The share of HTTP requests answered 5xx above this alerts."
    )
    alert_p99_seconds: float = Field(default=2.0, description="HTTP p99 latency above this alerts.")
    alert_webhook_backlog: int = Field(
        default=1000, description="Webhook deliveries waiting above this alerts."
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

    # ---- payment chat bot (issue 6) -------------------------------------------------
    chat_session_ttl_seconds: int = Field(
        default=3600, ge=60, description="A chat session expires this long after it starts."
    )
    chat_store: Literal["sql", "redis"] = Field(
        default="sql",
        description="Where chat sessions live: 'sql' (the database, embedded default) or "
        "'redis' (SMARTPAY_REDIS_URL, native expiry; for several API processes).",
    )
    chat_rate_limit_per_second: float = Field(
        default=10.0,
        gt=0,
        description="Chat requests allowed per second per client IP and per session "
        "(then 429 with Retry-After). Counted in each API process.",
    )
    chat_cors_origins: str = Field(
        default="",
        description='JSON object: merchant id (or "*" for every merchant) -> list of '
        'browser origins allowed to call /chat and /session, e.g. {"acct_...": '
        '["https://shop.example"]}. Empty: no cross-origin access (the /pay page is '
        "same-origin and needs none).",
    )
    chat_accepted_brands: str = Field(
        default="",
        description="Comma-separated card brands the chat accepts (visa, mastercard, amex, "
        "discover, diners, jcb, unionpay, maestro). Empty: every brand.",
    )
    chat_public_base_url: str | None = Field(
        default=None,
        description="Base URL of the links POST /v1/chat_sessions returns. Default: the "
        "URL the request came to.",
    )
    llm_provider: Literal["none", "bedrock", "openai", "anthropic", "gemini", "local"] = Field(
        default="none",
        description="Model that phrases chat replies and classifies messages the parser "
        "cannot read. 'none': templates only, fully offline. 'local': an OpenAI-compatible "
        "server (Ollama, llama.cpp, vLLM) at SMARTPAY_LLM_BASE_URL. The others need the "
        "'llm' extra (pip install 'smartpay[llm]').",
    )
    llm_model: str | None = Field(
        default=None,
        description="Model id. Default per provider: bedrock "
        "us.meta.llama3-2-1b-instruct-v1:0, openai gpt-4o-mini, anthropic "
        "claude-haiku-4-5, gemini gemini-2.0-flash, local llama3.2:1b.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        description="API key of the provider: required by openai, anthropic and gemini; "
        "optional for local (a server started with --api-key); not used by bedrock (the "
        "standard AWS credential chain).",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="Endpoint override: the OpenAI-compatible server for 'local' (default "
        "http://127.0.0.1:11434/v1, Ollama), the endpoint URL for bedrock (a VPC endpoint), "
        "or a proxy for the others.",
    )
    llm_region: str = Field(default="us-east-1", description="AWS region for bedrock.")
    llm_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Deadline of one model call, enforced by the adapter and passed to the "
        "SDK. A slower (or failing) model is ignored: the chat sends the template reply.",
    )
    llm_json_mode: Literal["auto", "json_object", "instruction"] = Field(
        default="auto",
        description="How 'local' asks for JSON: response_format json_object, falling back "
        "to an instruction if the server refuses it ('auto'), always json_object, or the "
        "instruction only.",
    )

    # ---- smart routing (issue 5) ----------------------------------------------------
    routing_strategy: Literal["smart", "priority"] = Field(
        default="smart",
        description="How merchants without a routing configuration are routed: 'smart' "
        "(the learning bandit) or 'priority' (SMARTPAY_PROCESSORS order).",
    )
    routing_config_file: Path | None = Field(
        default=None,
        description="JSON file of routing configurations: one configuration for every "
        'merchant, or {"default": {...}, "merchants": {"acct_...": {...}}}. A configuration '
        "saved through POST /v1/routing/config takes precedence.",
    )
    routing_store: Literal["sql", "redis", "memory"] = Field(
        default="sql",
        description="Where routing statistics and circuit breakers live: 'sql' (the "
        "database, shared by every process on it), 'redis' (SMARTPAY_REDIS_URL, for a "
        "fleet) or 'memory' (this process only).",
    )
    routing_flush_seconds: float = Field(
        default=0.5,
        ge=0,
        description="With the 'sql' store, how long a process keeps attempt outcomes before "
        "writing them to the shared statistics in one transaction, and how old the "
        "statistics, breakers and configuration a routing decision reads may be. A breaker "
        "change is written at once. 0 writes every outcome as it happens.",
    )
    routing_max_attempts: int = Field(
        default=3, ge=1, le=10, description="Processors one confirmation may try at most."
    )
    routing_time_budget_seconds: float = Field(
        default=15.0,
        gt=0,
        description="No further processor is tried once a confirmation has run this long.",
    )
    routing_retryable_decline_codes: str = Field(
        default="processing_error,try_again_later,issuer_not_available,reenter_transaction",
        description="Comma-separated soft decline codes after which the next processor is "
        "tried. Card-caused declines (lost, stolen, fraudulent, expired...) never are.",
    )
    routing_fee_weight: float = Field(
        default=1.0, ge=0, description="Weight of the expected fee in the routing objective."
    )
    routing_latency_weight: float = Field(
        default=0.01,
        ge=0,
        description="Latency penalty: share of the amount one second of expected latency costs.",
    )
    routing_prior_strength: float = Field(
        default=20.0,
        gt=0,
        description="Observations the cold-start prior (the processor's pooled rate) is worth.",
    )
    routing_prior_approval: float = Field(
        default=0.85, gt=0, lt=1, description="Approval rate assumed for a processor never seen."
    )
    routing_exploration_floor: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Share of payments sent first to a uniformly chosen processor.",
    )
    routing_half_life_seconds: float = Field(
        default=43_200.0,
        gt=0,
        description="Half-life of routing evidence: how fast old outcomes are forgotten. "
        "12 hours measured best in `smartpay routing simulate` (~20,000 payments a day); "
        "busier merchants can forget faster.",
    )
    routing_breaker_window_seconds: float = Field(
        default=120.0, gt=0, description="Sliding window of the circuit breakers' error rate."
    )
    routing_breaker_min_calls: int = Field(
        default=10, ge=1, description="Calls in the window before a breaker may open."
    )
    routing_breaker_error_rate: float = Field(
        default=0.5, gt=0, le=1, description="Error or timeout rate that opens a breaker."
    )
    routing_breaker_cooldown_seconds: float = Field(
        default=30.0, ge=0, description="How long an open breaker waits before probing."
    )
    routing_breaker_probe_successes: int = Field(
        default=3, ge=1, description="Successful probes in a row that close a breaker."
    )
    routing_breaker_probe_share: float = Field(
        default=0.1, gt=0, le=1, description="Share of payments a half-open breaker lets through."
    )

    # ---- ACH and escrow (issue 8) ---------------------------------------------------
    ach_odfis: str = Field(
        default="",
        description="JSON object of originating banks (ODFIs): {name: {routing_number, "
        "name, timezone, same_day_cutoffs, standard_cutoff}}. Empty: one ODFI 'sandbox' "
        "(routing 110000000, America/New_York, same-day cut-offs 10:30,14:45,16:45, "
        "standard 18:00), whose files the sandbox bank answers.",
    )
    ach_fee_model: Literal["per_batch", "per_entry"] = Field(
        default="per_batch",
        description="How the ODFI bills ACH: a fee per batch or per entry.",
    )
    ach_fee_amount: int = Field(
        default=25,
        ge=0,
        description="The ODFI's fee in cents, per batch or per entry (SMARTPAY_ACH_FEE_MODEL).",
    )
    ach_settlement_delay_seconds: int = Field(
        default=2 * 86_400,
        ge=0,
        description="After a file is submitted, how long until its entries count as settled "
        "(no return received by then). Returns arriving later still reverse them.",
    )
    ach_sandbox_bank: bool = Field(
        default=True,
        description="The worker runs the sandbox bank: it takes the files of the 'sandbox' "
        "ODFI and answers them with a returns file after SMARTPAY_ACH_SANDBOX_RETURN_DELAY_"
        "SECONDS.",
    )
    ach_sandbox_return_delay_seconds: int = Field(
        default=86_400,
        ge=0,
        description="Simulated time the sandbox bank takes to settle a file and send its returns.",
    )

    # ---- AI consensus decisions (issue 7) -------------------------------------------
    decisions_strategy: Literal["majority", "weighted", "weighted_average", "hybrid"] = Field(
        default="hybrid",
        description="How votes are combined for merchants that chose none: majority, "
        "weighted vote, weighted average of risks with thresholds, or hybrid (vetoes, then "
        "the weighted average, then escalation to review on disagreement or no quorum).",
    )
    decisions_voter_timeout_seconds: float = Field(
        default=3.0, gt=0, description="Each voter's deadline; a late voter abstains."
    )
    decisions_quorum: int = Field(
        default=2, ge=1, description="Valid (non-abstaining) votes the hybrid strategy needs."
    )
    decisions_weights: str = Field(
        default="",
        description='JSON {"voter": weight} for the weighted strategies (missing voters: '
        "1). Weights a merchant set or learnt take precedence.",
    )
    decisions_review_threshold: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Weighted average risk at or above which the outcome is review.",
    )
    decisions_decline_threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Weighted average risk at or above which the outcome is decline.",
    )
    decisions_spread_threshold: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="Hybrid: votes whose risks differ by more than this go to review.",
    )
    decisions_unanimity_amounts: str = Field(
        default="usd:100000,eur:100000,gbp:100000",
        description="currency:minor_units pairs; at or above, a favourable outcome needs "
        "every valid vote to agree (else review).",
    )
    decisions_llm_voters: str = Field(
        default="",
        description='JSON list of LLM voters: [{"name", "provider", "model", "api_key", '
        '"base_url", "region"}]. Empty: the SMARTPAY_LLM_* model, if one is configured.',
    )
    decisions_in_payment_path: bool = Field(
        default=True,
        description="Send grey-zone confirmations (SMARTPAY_DECISIONS_GREY_ZONE_*) to the "
        "consensus of voters. False: the risk engine's fast path decides every payment.",
    )
    decisions_grey_zone_low: int = Field(
        default=600, ge=0, le=1000, description="Payment scores from here go to the consensus."
    )
    decisions_grey_zone_high: int = Field(
        default=900, ge=0, le=1000, description="Payment scores up to here go to the consensus."
    )
    decisions_payment_llm_mode: Literal["budget", "advisory"] = Field(
        default="budget",
        description="On the payment path, LLM voters vote within the latency budget "
        "('budget') or after the payment, recorded but not deciding ('advisory').",
    )
    decisions_payment_llm_budget_seconds: float = Field(
        default=1.0,
        gt=0,
        description="The LLM voters' deadline on the payment path in 'budget' mode.",
    )
    # Risk engine (issue 4).
    risk_enabled: bool = Field(
        default=True,
        description="Score every confirmation before it reaches a processor (block, review "
        "or allow). False turns the risk engine off.",
    )
    risk_store: Literal["sql", "redis"] = Field(
        default="sql",
        description="Where live risk features are kept: 'sql' (tables in the database, "
        "updated in the payment's transaction) or 'redis' (SMARTPAY_REDIS_URL, for a fleet).",
    )
    risk_block_score: int = Field(
        default=950, ge=0, le=1000, description="Default rule: block at this score or above."
    )
    risk_review_score: int = Field(
        default=750, ge=0, le=1000, description="Default rule: review at this score or above."
    )
    risk_warmup_days: float = Field(
        default=8.0,
        ge=0,
        description="The default score rules act only once a merchant has this many days of "
        "traffic (the model needs matured fraud-share history); merchant rules act at once.",
    )
    risk_label_delay_days: float = Field(
        default=7.0,
        ge=0,
        description="Fraud labels count in the merchant fraud-share features only once this "
        "old (fraud is learnt late; the handbook's delay).",
    )
    risk_reason_count: int = Field(
        default=3, ge=0, le=20, description="Top model features returned as reasons."
    )
    risk_model_dir: Path | None = Field(
        default=None,
        description="A model directory written by `smartpay risk train`. Default: the "
        "model shipped in the package.",
    )
    risk_shadow_model_dir: Path | None = Field(
        default=None,
        description="A candidate model scored alongside the deciding one (stored on the "
        "payment as risk.shadow and logged, never deciding) before it is promoted.",
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
    def ach_dir(self) -> Path:
        """Outbox (files for the ODFI), inbox (returns and NOCs) and the sandbox bank."""
        return self.data_dir / "ach"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")
