"""Routing decisions: rules first, then the strategy, then the circuit breakers.

``Router`` is pure: given a payment, a configuration, statistics and a random generator,
it returns the ordered processors to try and why. Live routing (``RoutingService``, for
payment confirmations and ``POST /v1/routing/decide``) and ``smartpay routing simulate``
both call it; only where the statistics come from differs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from smartpay.config import Settings
from smartpay.errors import InvalidRequest
from smartpay.events.service import EventBatch
from smartpay.kit.api import stripe_param_name
from smartpay.kit.clock import now as unix_now
from smartpay.kit.db import Database, Session
from smartpay.kit.ids import new_id
from smartpay.ops.metrics import BREAKER_TRANSITIONS
from smartpay.routing import repository
from smartpay.routing.bandit import (
    DEFAULT_RETRYABLE_DECLINES,
    CandidateScore,
    FeeEstimator,
    Observation,
    PaymentContext,
    StatsView,
    Strategy,
    StrategyWeights,
    ThompsonStrategy,
)
from smartpay.routing.breaker import BreakerPolicy, BreakerRecord, Transition, admits
from smartpay.routing.schemas import Conditions, RoutingConfig, Rule
from smartpay.routing.store import (
    BreakerChange,
    MemoryRoutingStore,
    Outcome,
    RedisRoutingStore,
    RoutingStore,
    SqlRoutingStore,
)

logger = logging.getLogger("smartpay.routing")

# A split hashes the payment's key into this many buckets: percentages are whole numbers.
_SPLIT_BUCKETS: Final = 100


@dataclass(frozen=True, slots=True)
class Decision:
    """The processors to try, in order, and the reasons (stored with every attempt)."""

    processors: list[str]
    method: str  # rule, split, fallback, smart, priority
    rule: str | None
    ranked_scores: list[CandidateScore]
    breakers: dict[str, dict[str, Any]]
    skipped: dict[str, str] = field(default_factory=dict)  # processor -> why it was left out
    segment: str = ""

    @property
    def scores(self) -> list[dict[str, Any]]:
        """The strategy's scores, rendered (only when someone looks: not on the hot path)."""
        return [item.as_reason() for item in self.ranked_scores]

    def reason_for(self, processor: str, position: int) -> dict[str, Any]:
        """What an attempt on ``processor`` records about why it was chosen."""
        score = next(
            (item.as_reason() for item in self.ranked_scores if item.processor == processor),
            None,
        )
        return {
            "processor": processor,
            "position": position,
            "method": self.method,
            "rule": self.rule,
            "segment": self.segment,
            "score": score,
            "breaker": self.breakers.get(processor),
        }

    def as_details(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "rule": self.rule,
            "segment": self.segment,
            "ranked": list(self.processors),
            "scores": self.scores,
            "breakers": self.breakers,
            "skipped": self.skipped,
        }


def conditions_hold(conditions: Conditions, context: PaymentContext) -> bool:
    if conditions.amount is not None and not conditions.amount.holds(context.amount):
        return False
    if conditions.currency is not None and context.currency not in conditions.currency:
        return False
    if conditions.card_brand is not None and (context.brand or "") not in conditions.card_brand:
        return False
    if conditions.card_country is not None and (
        (context.country or "") not in conditions.card_country
    ):
        return False
    if not conditions.bin_matches(context.bin):
        return False
    if conditions.customer is not None and context.customer not in conditions.customer:
        return False
    if conditions.metadata is not None:
        for key, value in conditions.metadata.items():
            if context.metadata.get(key) != value:
                return False
    return True


def split_choice(split: Mapping[str, int], key: str, rule_id: str, rng: random.Random) -> str:
    """The processor a volume split sends this payment to: by a hash of the payment's key
    (the same intent always lands on the same side), by the generator without a key."""
    if key:
        digest = hashlib.blake2b(f"{rule_id}:{key}".encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest, "big") % _SPLIT_BUCKETS
    else:
        bucket = rng.randrange(_SPLIT_BUCKETS)
    for processor, share in split.items():
        if bucket < share:
            return processor
        bucket -= share
    return next(reversed(list(split)))  # unreachable: shares add up to 100


class Router:
    """Rules → strategy → breakers, for one payment at a time."""

    def __init__(
        self,
        processors: Sequence[str],
        fees: FeeEstimator,
        strategy: Strategy,
        breaker_policy: BreakerPolicy,
    ) -> None:
        self.processors = list(processors)
        self.fees = fees
        self.strategy = strategy
        self.breaker_policy = breaker_policy

    def decide(
        self,
        context: PaymentContext,
        config: RoutingConfig,
        stats: StatsView,
        breakers: Mapping[str, BreakerRecord],
        rng: random.Random,
        now: float,
    ) -> Decision:
        enabled = [
            name for name in (config.processors or self.processors) if name in self.processors
        ]
        if not enabled:
            enabled = list(self.processors)
        rule = self._matching_rule(config.rules, context)
        head: list[str] = []
        method: str = config.strategy
        follow = True
        if rule is not None:
            route = rule.route
            follow = route.then == "strategy"
            if route.processor is not None:
                head, method = [route.processor], "rule"
            elif route.split is not None:
                head, method = [split_choice(route.split, context.key, rule.id, rng)], "split"
            else:
                head, method = list(route.fallback or []), "fallback"
            head = [name for name in head if name in self.processors]
        rest = [name for name in enabled if name not in head] if follow else []
        scores: list[CandidateScore] = []
        if rest and config.strategy == "smart":
            scores = self.strategy.rank(context, rest, stats, self.fees, rng, now)
            rest = [item.processor for item in scores]
        ordered = head + rest
        breaker_reasons: dict[str, dict[str, Any]] = {}
        skipped: dict[str, str] = {}
        allowed: list[str] = []
        for name in ordered:
            record = breakers.get(name)
            admitted, why = admits(record, now, self.breaker_policy, rng)
            reason = (
                record.as_reason(now, self.breaker_policy)
                if record is not None
                else {"state": "closed", "window_calls": 0, "window_error_rate": 0.0}
            )
            reason["admitted"] = why
            breaker_reasons[name] = reason
            if admitted:
                allowed.append(name)
            else:
                skipped[name] = f"breaker {why}"
        if not allowed:
            # Every candidate's breaker is open: trying in order beats refusing the payment.
            allowed = ordered
            skipped = {}
        return Decision(
            allowed,
            method,
            rule.id if rule is not None else None,
            scores,
            breaker_reasons,
            skipped,
            context.segment,
        )

    @staticmethod
    def _matching_rule(rules: Sequence[Rule], context: PaymentContext) -> Rule | None:
        for rule in rules:
            if conditions_hold(rule.when, context):
                return rule
        return None


# ----------------------------------------------------------------------------- live


def weights_from(settings: Settings) -> StrategyWeights:
    return StrategyWeights(
        fee_weight=settings.routing_fee_weight,
        latency_weight_per_second=settings.routing_latency_weight,
        prior_strength=settings.routing_prior_strength,
        prior_approval=settings.routing_prior_approval,
        exploration_floor=settings.routing_exploration_floor,
        half_life_seconds=settings.routing_half_life_seconds,
    )


def breaker_policy_from(settings: Settings) -> BreakerPolicy:
    return BreakerPolicy(
        window_seconds=settings.routing_breaker_window_seconds,
        min_calls=settings.routing_breaker_min_calls,
        error_rate=settings.routing_breaker_error_rate,
        cooldown_seconds=settings.routing_breaker_cooldown_seconds,
        probe_successes=settings.routing_breaker_probe_successes,
        probe_share=settings.routing_breaker_probe_share,
    )


def retryable_codes(settings: Settings) -> frozenset[str]:
    raw = settings.routing_retryable_decline_codes
    codes = [code.strip() for code in raw.split(",") if code.strip()]
    return frozenset(codes if raw.strip() else DEFAULT_RETRYABLE_DECLINES)


def parse_config(document: object, processors: Sequence[str], where: str = "") -> RoutingConfig:
    """Validate a configuration document; a problem is a 400 naming the parameter."""
    try:
        config = RoutingConfig.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = stripe_param_name(first.get("loc", ()))
        message = str(first.get("msg", "is invalid"))
        raise InvalidRequest(
            f"Invalid routing config{where}: {param}: {message}.", param=param
        ) from None
    check_processors(config, processors)
    return config


def check_processors(config: RoutingConfig, processors: Sequence[str]) -> None:
    """Every processor a configuration names must be enabled."""
    enabled = set(processors)

    def unknown(name: str, param: str) -> None:
        if name not in enabled:
            raise InvalidRequest(
                f"Unknown processor {name!r}; enabled processors: {', '.join(processors)}.",
                param=param,
            )

    for index, name in enumerate(config.processors or []):
        unknown(name, f"processors[{index}]")
    for position, rule in enumerate(config.rules):
        route = rule.route
        kind = "processor" if route.processor else "split" if route.split else "fallback"
        for name in route.processors():
            unknown(name, f"rules[{position}][route][{kind}]")


def load_config_file(
    path: Path, processors: Sequence[str]
) -> tuple[RoutingConfig | None, dict[str, RoutingConfig]]:
    """(default, per-merchant) configurations from SMARTPAY_ROUTING_CONFIG_FILE. A broken
    file stops the start with a ``ValueError`` saying what is wrong."""
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"SMARTPAY_ROUTING_CONFIG_FILE {path}: {exc}") from None
    try:
        if isinstance(document, dict) and ("merchants" in document or "default" in document):
            unknown = sorted(set(document) - {"merchants", "default"})
            if unknown:
                raise InvalidRequest(f"unknown keys {', '.join(unknown)}", param=unknown[0])
            default = (
                parse_config(document["default"], processors, " (default)")
                if document.get("default") is not None
                else None
            )
            merchants = {
                merchant: parse_config(config, processors, f" ({merchant})")
                for merchant, config in (document.get("merchants") or {}).items()
            }
            return default, merchants
        return parse_config(document, processors), {}
    except InvalidRequest as exc:
        raise ValueError(f"SMARTPAY_ROUTING_CONFIG_FILE {path}: {exc.message}") from None


@dataclass(slots=True)
class RoutedConfig:
    config: RoutingConfig
    source: str  # api, file, default
    updated: int | None


class RoutingService:
    """Live routing: configurations from the database (or the file), statistics from the
    store, decisions by ``Router``, and what every attempt teaches it."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        processors: Sequence[str],
        fees: FeeEstimator,
        *,
        store: RoutingStore | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.database = database
        self.processors = list(processors)
        self.weights = weights_from(settings)
        self.breaker_policy = breaker_policy_from(settings)
        self.retryable = retryable_codes(settings)
        self.router = Router(
            self.processors, fees, ThompsonStrategy(self.weights), self.breaker_policy
        )
        self.store = store or _build_store(settings, self.breaker_policy)
        # Not for security: routing draws (Thompson samples, exploration, probes).
        self.rng = rng or random.Random()  # noqa: S311
        self.clock = clock
        self.default_config = RoutingConfig(strategy=settings.routing_strategy)
        self.file_default: RoutingConfig | None = None
        self.file_merchants: dict[str, RoutingConfig] = {}
        if settings.routing_config_file is not None:
            self.file_default, self.file_merchants = load_config_file(
                settings.routing_config_file, self.processors
            )
        # Configurations a decision reads, by merchant, with when they were read
        # (time.monotonic()): no older than SMARTPAY_ROUTING_FLUSH_SECONDS.
        self._configs: dict[str, tuple[RoutedConfig, float]] = {}
        self._flush_lock = asyncio.Lock()
        self._flush_later: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self._flush_later is not None:
            self._flush_later.cancel()
        if self.store.pending():
            try:
                await self.flush()
            except Exception:
                logger.exception("routing: could not write the last outcomes on close")
        client = getattr(self.store, "client", None)
        if client is not None:
            await client.aclose()

    # -- configuration

    async def config_for(self, session: Session, merchant_id: str) -> RoutedConfig:
        row = await repository.get_config(session, merchant_id)
        if row is not None:
            return RoutedConfig(RoutingConfig.model_validate(row.document), "api", row.updated)
        if merchant_id in self.file_merchants:
            return RoutedConfig(self.file_merchants[merchant_id], "file", None)
        if self.file_default is not None:
            return RoutedConfig(self.file_default, "file", None)
        return RoutedConfig(self.default_config, "default", None)

    async def save_config(
        self, session: Session, merchant_id: str, config: RoutingConfig
    ) -> RoutedConfig:
        check_processors(config, self.processors)
        updated = unix_now()
        document = config.model_dump(mode="json", exclude_none=True)
        await repository.save_config(session, merchant_id, document, updated)
        self._configs.pop(merchant_id, None)
        return RoutedConfig(config, "api", updated)

    # -- decisions

    async def decide(self, session: Session, context: PaymentContext) -> Decision:
        config = (await self._config_for_decision(session, context.merchant_id)).config
        snapshot = await self.store.load(session, self.processors, context.segment)
        return self.router.decide(
            context, config, snapshot, snapshot.breakers, self.rng, self.clock()
        )

    async def _config_for_decision(self, session: Session, merchant_id: str) -> RoutedConfig:
        clock = time.monotonic()
        cached = self._configs.get(merchant_id)
        if cached is not None and clock - cached[1] < self.settings.routing_flush_seconds:
            return cached[0]
        routed = await self.config_for(session, merchant_id)
        self._configs[merchant_id] = (routed, clock)
        return routed

    # -- learning

    async def observe(
        self,
        merchant_id: str,
        processor: str,
        segment: str,
        observation: Observation,
        latency_ms: float | None,
    ) -> None:
        """Fold one attempt's outcome into the statistics and the processor's breaker.
        Learning is not part of the payment's money movement: it never shares the
        payment's transaction, and losing outcomes in a crash costs nothing but samples.
        A breaker change is logged and written as a ``routing.breaker.<state>`` event of
        the merchant whose payment caused it."""
        outcome = Outcome(merchant_id, processor, segment, observation, latency_ms, self.clock())
        changes = await self.store.record(outcome)
        if changes:
            async with self.database.transaction() as session:
                await _announce(session, changes)
        if self.store.flush_due():
            await self.flush()
        elif self.store.pending() and (self._flush_later is None or self._flush_later.done()):
            # Outcomes must not wait for the next payment if none comes.
            self._flush_later = asyncio.get_running_loop().create_task(self._flush_after_delay())

    async def flush(self) -> None:
        """Write the store's waiting outcomes (and the breaker changes they make) now."""
        async with self._flush_lock:
            if not self.store.pending():
                return
            async with self.database.transaction() as session:
                changes = await self.store.flush(session)
                if changes:
                    await _announce(session, changes)

    async def _flush_after_delay(self) -> None:
        await asyncio.sleep(self.settings.routing_flush_seconds)
        try:
            await self.flush()
        except Exception:
            logger.exception("routing: could not write attempt outcomes")


async def _announce(session: Session, changes: list[BreakerChange]) -> None:
    for change in changes:
        transition = change.transition
        events = EventBatch(change.merchant_id)
        events.add(f"routing.breaker.{transition.state.value}", _breaker_object(transition))
        await events.flush(session)
        BREAKER_TRANSITIONS.labels(transition.processor, transition.state.value).inc()
        logger.warning(
            "routing breaker %s: %s -> %s (window calls %.0f, error rate %.2f)",
            transition.processor,
            transition.previous.value,
            transition.state.value,
            transition.window_calls,
            transition.window_error_rate,
        )


def _build_store(settings: Settings, policy: BreakerPolicy) -> RoutingStore:
    half_life = settings.routing_half_life_seconds
    if settings.routing_store == "memory":
        return MemoryRoutingStore(half_life, policy)
    if settings.routing_store == "redis":
        if not settings.redis_url:
            raise ValueError("SMARTPAY_ROUTING_STORE=redis needs SMARTPAY_REDIS_URL.")
        import redis.asyncio as redis

        return RedisRoutingStore(redis.Redis.from_url(settings.redis_url), half_life, policy)
    return SqlRoutingStore(half_life, policy, settings.routing_flush_seconds)


def _breaker_object(transition: Transition) -> dict[str, Any]:
    return {
        "id": new_id("brk"),
        "object": "routing.breaker",
        "processor": transition.processor,
        "state": transition.state.value,
        "previous_state": transition.previous.value,
        "window_calls": round(transition.window_calls, 1),
        "window_error_rate": round(transition.window_error_rate, 3),
        "changed_at": int(transition.at),
    }
