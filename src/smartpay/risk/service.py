"""Scoring a payment: live features → model → lists and rules → allow, review or block.

`RiskService.assess` is the whole decision for one payment and the only thing the
payment path calls (`PaymentFlows._begin_authorization`, inside its first transaction,
before routing). Its SQL cost with the default store, per payment: one SELECT of the
payment's entity states, one SELECT of the merchant's day counters and first-seen time,
one multi-row upsert of the states, one upsert of a day counter (and, on a merchant's
first payment only, one insert of its first-seen time), and one SELECT of the merchant's
allow/block lists when it has any; the merchant's rules are cached per process.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from smartpay.config import Settings
from smartpay.errors import InvalidState
from smartpay.kit.db import Session
from smartpay.kit.money import currency_exponent
from smartpay.risk import repository
from smartpay.risk.facts import VELOCITY_ENTITIES, VELOCITY_WINDOWS
from smartpay.risk.features import (
    FEATURE_NAMES,
    NEW_CUSTOMER,
    SECONDS_PER_DAY,
    compute_features,
)
from smartpay.risk.live import (
    TERMINAL_DAY_SHARDS,
    EntityState,
    LiveFeatureStore,
    LiveSnapshot,
    RedisLiveFeatureStore,
    SqlLiveFeatureStore,
    entity_key,
    peer_id,
    terminal_aggregates,
    terminal_day_range,
)
from smartpay.risk.model import SHIPPED_MODEL_DIR, RiskModel
from smartpay.risk.models import ListAction, ListKind, ReviewStatus
from smartpay.risk.rules import RiskAction, RiskRule, evaluate_rules, score_rules
from smartpay.risk.transactions import CENTS_PER_UNIT, Transaction

logger = logging.getLogger("smartpay.risk")

# Stripe's risk_score runs 0–100; SmartPay's score 0–1000 is shown there divided by ten.
STRIPE_RISK_SCORE_DIVISOR = 10
# How long a process reuses a merchant's rules and list flag read from the database:
# a rule written through another process takes effect within this time (at once here).
RULES_CACHE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class PaymentSignals:
    """What the risk engine sees of a payment; never the card number, never the CVC."""

    merchant_id: str
    timestamp: float
    amount: int  # minor units of `currency`
    currency: str
    card_fingerprint: str | None = None
    customer_id: str | None = None
    email: str | None = None
    ip_address: str | None = None
    device_id: str | None = None
    bin: str | None = None
    card_country: str | None = None
    billing_country: str | None = None
    card_brand: str | None = None
    card_funding: str | None = None

    @property
    def email_domain(self) -> str | None:
        if not self.email or "@" not in self.email:
            return None
        return self.email.rsplit("@", 1)[1].lower()

    def entities(self) -> dict[str, str]:
        """The velocity entities this payment has, by kind."""
        values = {
            "card": self.card_fingerprint,
            "customer": f"{self.merchant_id}:{self.customer_id}" if self.customer_id else None,
            "email": self.email.lower() if self.email else None,
            "ip": self.ip_address,
            "device": self.device_id,
        }
        return {kind: value for kind, value in values.items() if value}

    def model_amount_cents(self) -> int:
        """The amount in hundredths of a major unit, as the model was trained (no FX)."""
        exponent = currency_exponent(self.currency)
        scaled: float = self.amount * 10.0 ** (2 - exponent)
        return round(scaled)


@dataclass(frozen=True, slots=True)
class Assessment:
    score: int
    decision: RiskAction
    rules: tuple[str, ...]
    features: tuple[dict[str, Any], ...]
    model_version: str
    scored_at: float
    shadow: dict[str, Any] | None = None
    facts: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def level(self) -> str:
        """Stripe's risk_level."""
        if self.decision == "block":
            return "highest"
        if self.decision == "review":
            return "elevated"
        return "normal"

    def as_details(self) -> dict[str, Any]:
        """The `risk` object stored on the payment and rendered on the PaymentIntent."""
        details: dict[str, Any] = {
            "score": self.score,
            "decision": self.decision,
            "risk_level": self.level,
            "reasons": {"rules": list(self.rules), "features": list(self.features)},
            "model_version": self.model_version,
            "scored_at": self.scored_at,
        }
        if self.shadow is not None:
            details["shadow"] = self.shadow
        return details


def stripe_outcome_fields(risk: Mapping[str, Any] | None) -> dict[str, Any]:
    """`risk_level` and `risk_score` of a charge's `outcome`, from the payment's risk object."""
    if not risk:
        return {"risk_level": "not_assessed", "risk_score": None}
    return {
        "risk_level": risk.get("risk_level", "normal"),
        "risk_score": int(risk["score"]) // STRIPE_RISK_SCORE_DIVISOR,
    }


@cache
def shipped_model() -> RiskModel:
    """The model in the package, loaded once per process (loading LightGBM takes a while)."""
    return RiskModel.load(SHIPPED_MODEL_DIR)


@lru_cache(maxsize=1)
def _geoip() -> Any:
    from geoip2fast import GeoIP2Fast

    return GeoIP2Fast()


@lru_cache(maxsize=65_536)
def ip_country(ip_address: str) -> str | None:
    """The country of an IP from the offline database geoip2fast ships; None if unknown."""
    code = _geoip().lookup(ip_address).country_code
    return code if isinstance(code, str) and len(code) == 2 and code.isalpha() else None


def _mismatch(left: str | None, right: str | None) -> float:
    if not left or not right:
        return math.nan
    return 0.0 if left.upper() == right.upper() else 1.0


def live_facts(
    signals: PaymentSignals, snapshot: LiveSnapshot, keys: Mapping[str, str]
) -> dict[str, Any]:
    """The live features only the payment path knows, by facts.LIVE_FEATURE_NAMES."""
    now = signals.timestamp
    facts: dict[str, Any] = {}
    for kind in VELOCITY_ENTITIES:
        state = snapshot.states.get(keys[kind]) if kind in keys else None
        for window in VELOCITY_WINDOWS:
            count, total = state.velocity(window, now) if state else (0.0, 0.0)
            known = kind in keys
            facts[f"velocity_{kind}_count_{window}"] = count if known else math.nan
            facts[f"velocity_{kind}_amount_{window}"] = (
                total * _minor_per_major(signals) if known else math.nan
            )
    card = snapshot.states.get(keys["card"]) if "card" in keys else None
    customer = snapshot.states.get(keys["customer"]) if "customer" in keys else None
    facts["card_first_seen_days"] = (now - card.first_seen) / SECONDS_PER_DAY if card else math.nan
    facts["customer_first_seen_days"] = (
        (now - customer.first_seen) / SECONDS_PER_DAY if customer else math.nan
    )
    facts["cards_per_customer"] = float(len(customer.peers)) if customer else math.nan
    facts["customers_per_card"] = float(len(card.peers)) if card else math.nan
    amount = signals.model_amount_cents() / CENTS_PER_UNIT
    _, mean, std = customer.moments() if customer else (0, math.nan, math.nan)
    facts["customer_history_mean_amount"] = mean * _minor_per_major(signals)
    facts["customer_history_amount_zscore"] = (amount - mean) / std if std > 0 else math.nan
    country = ip_country(signals.ip_address) if signals.ip_address else None
    facts["ip_country"] = country
    facts["ip_card_country_mismatch"] = _mismatch(country, signals.card_country)
    facts["ip_billing_country_mismatch"] = _mismatch(country, signals.billing_country)
    facts["card_billing_country_mismatch"] = _mismatch(
        signals.card_country, signals.billing_country
    )
    return facts


def _minor_per_major(signals: PaymentSignals) -> float:
    """States keep amounts in major units (as the model sees them); facts show minor units."""
    return float(10 ** currency_exponent(signals.currency))


def model_row(
    signals: PaymentSignals,
    snapshot: LiveSnapshot,
    keys: Mapping[str, str],
    label_delay_seconds: float,
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The model's feature row of a payment, from the live state read before it."""
    # The handbook's customer is the card holder: live, the card fingerprint (or the
    # customer when a payment has no card); the handbook's terminal is the merchant.
    holder_key = keys.get("card") or keys.get("customer")
    holder = snapshot.states.get(holder_key) if holder_key else None
    now = signals.timestamp
    transaction = Transaction(
        transaction_id="",
        timestamp=now,
        customer_id=holder_key or "",
        terminal_id=signals.merchant_id,
        amount_cents=signals.model_amount_cents(),
    )
    customer_aggregates = holder.customer_aggregates(now) if holder else NEW_CUSTOMER
    return compute_features(
        transaction,
        customer_aggregates,
        terminal_aggregates(
            snapshot.terminal_days, now, label_delay_seconds, snapshot.terminal_first_seen
        ),
    )


def recorded_states(
    signals: PaymentSignals,
    snapshot: LiveSnapshot,
    keys: Mapping[str, str],
    entities: Mapping[str, str],
) -> dict[str, EntityState]:
    """The entity states once the scored payment is counted in them (to be written)."""
    now = signals.timestamp
    amount = signals.model_amount_cents() / CENTS_PER_UNIT
    card_peer = peer_id(entities["card"]) if "card" in entities else None
    customer_peer = peer_id(entities["customer"]) if "customer" in entities else None
    updated: dict[str, EntityState] = {}
    for kind, key in keys.items():
        state = snapshot.states.get(key) or EntityState.new(now)
        peer = card_peer if kind == "customer" else customer_peer if kind == "card" else None
        state.record(now, amount, peer)
        updated[key] = state
    return updated


def merchant_first_seen_to_write(snapshot: LiveSnapshot, now: float) -> float | None:
    """The first-seen time to store with a recorded payment, or None: it is written once.

    When the store knows none for the merchant this is its first payment, seen `now`;
    unless day counters exist already (copied in without a first-seen time), whose
    oldest day read is the earliest evidence of the merchant there is.
    """
    if snapshot.terminal_first_seen is not None:
        return None
    if snapshot.terminal_days:
        return min(min(snapshot.terminal_days) * SECONDS_PER_DAY, now)
    return now


def label_keys(signals: PaymentSignals) -> dict[str, str]:
    """The entities a fraud label teaches: the card and the customer."""
    return {
        kind: entity_key(kind, value, signals.currency)
        for kind, value in signals.entities().items()
        if kind in ("card", "customer")
    }


def relabelled_states(
    signals: PaymentSignals, snapshot: LiveSnapshot, keys: Mapping[str, str], *, is_fraud: bool
) -> dict[str, EntityState]:
    """The card and customer states once a fraud label is added (or withdrawn)."""
    amount = signals.model_amount_cents() / CENTS_PER_UNIT
    updated = {}
    for key in keys.values():
        state = snapshot.states.get(key)
        if state is not None:
            if is_fraud:
                state.record_fraud(signals.timestamp, amount)
            else:
                state.forget_fraud(signals.timestamp, amount)
            updated[key] = state
    return updated


def default_rules(settings: Settings) -> tuple[RiskRule, ...]:
    return score_rules(
        settings.risk_block_score, settings.risk_review_score, settings.risk_warmup_days
    )


def rule_of_row(row: Any) -> RiskRule:
    return RiskRule.model_validate(
        {
            "id": row.id,
            "description": row.description,
            "conditions": row.conditions,
            "action": row.action,
        }
    )


@dataclass(slots=True)
class _MerchantRules:
    rules: tuple[RiskRule, ...]
    read_at: float


class RiskService:
    def __init__(
        self,
        settings: Settings,
        store: LiveFeatureStore,
        model: RiskModel,
        shadow_model: RiskModel | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.model = model
        self.shadow_model = shadow_model
        self.default_rules = default_rules(settings)
        self.label_delay_seconds = settings.risk_label_delay_days * SECONDS_PER_DAY
        self._rules: dict[str, _MerchantRules] = {}
        self._lock = threading.Lock()

    async def close(self) -> None:
        await self.store.close()

    # ------------------------------------------------------------ rules cache

    def forget_rules(self, merchant_id: str) -> None:
        """A rule or list entry of the merchant changed: read them again next time."""
        with self._lock:
            self._rules.pop(merchant_id, None)

    async def merchant_rules(self, session: Session, merchant_id: str) -> tuple[RiskRule, ...]:
        cached = self._rules.get(merchant_id)
        if cached is not None and time.monotonic() - cached.read_at < RULES_CACHE_SECONDS:
            return cached.rules
        rows = await repository.merchant_rules(session, merchant_id)
        rules = tuple(rule_of_row(row) for row in rows if row.enabled)
        with self._lock:
            self._rules[merchant_id] = _MerchantRules(rules, time.monotonic())
        return rules

    # ------------------------------------------------------------ scoring

    async def assess(
        self, session: Session, signals: PaymentSignals, *, record: bool = True
    ) -> Assessment:
        """Score a payment and decide; with `record`, add it to the live counters."""
        merchant_id = signals.merchant_id
        currency = signals.currency
        entities = signals.entities()
        keys = {kind: entity_key(kind, value, currency) for kind, value in entities.items()}
        days = terminal_day_range(signals.timestamp, self.label_delay_seconds)
        snapshot = await self.store.read(
            session, merchant_id, list(keys.values()), days, for_update=record
        )
        now = signals.timestamp
        row = model_row(signals, snapshot, keys, self.label_delay_seconds)
        scored = self.model.score(row, self.settings.risk_reason_count)
        facts: dict[str, Any] = dict(zip(FEATURE_NAMES, row.tolist(), strict=True))
        facts.update(live_facts(signals, snapshot, keys))
        facts.update(
            amount=signals.amount,
            currency=currency,
            card_country=signals.card_country,
            billing_country=signals.billing_country,
            bin=signals.bin,
            email_domain=signals.email_domain,
            card_brand=signals.card_brand,
            card_funding=signals.card_funding,
            score=scored.score,
        )
        decision, fired = await self._decide(session, signals, facts)
        shadow = self._shadow(row, facts) if self.shadow_model is not None else None
        if record:
            await self._record(session, signals, snapshot, keys, entities)
        return Assessment(
            score=scored.score,
            decision=decision,
            rules=fired,
            features=tuple(
                {
                    "feature": reason.feature,
                    "value": None if math.isnan(reason.value) else round(reason.value, 4),
                    "contribution": round(reason.contribution, 4),
                }
                for reason in scored.reasons
            ),
            model_version=self.model.metadata.version,
            scored_at=now,
            shadow=shadow,
            facts=facts,
        )

    async def _decide(
        self, session: Session, signals: PaymentSignals, facts: dict[str, Any]
    ) -> tuple[RiskAction, tuple[str, ...]]:
        listed = await self._listed(session, signals)
        if listed is not None:
            return listed
        rules = (*await self.merchant_rules(session, signals.merchant_id), *self.default_rules)
        outcome = evaluate_rules(rules, facts)
        return outcome.action or "allow", outcome.fired

    async def _listed(
        self, session: Session, signals: PaymentSignals
    ) -> tuple[RiskAction, tuple[str, ...]] | None:
        """A block-list match blocks; an allow-list match allows and skips every rule."""
        candidates: list[tuple[str, str]] = []
        if signals.card_fingerprint:
            candidates.append((ListKind.CARD_FINGERPRINT.value, signals.card_fingerprint))
        if signals.email:
            candidates.append((ListKind.EMAIL.value, signals.email.lower()))
        if signals.ip_address:
            candidates.append((ListKind.IP_ADDRESS.value, signals.ip_address))
        if signals.bin:
            candidates.extend((ListKind.BIN.value, signals.bin[:length]) for length in (6, 7, 8))
        entries = await repository.matching_list_entries(session, signals.merchant_id, candidates)
        blocked = [entry for entry in entries if entry.action == ListAction.BLOCK.value]
        if blocked:
            return "block", tuple(f"block_list:{entry.kind}" for entry in blocked)
        if entries:
            return "allow", tuple(f"allow_list:{entry.kind}" for entry in entries)
        return None

    def _shadow(self, row: np.ndarray[Any, Any], facts: dict[str, Any]) -> dict[str, Any]:
        """A candidate model scored on the same row: logged and stored, never deciding."""
        assert self.shadow_model is not None
        score = self.shadow_model.calibration.score(self.shadow_model.raw_score(row))
        outcome = evaluate_rules(self.default_rules, {**facts, "score": score})
        shadow = {
            "model_version": self.shadow_model.metadata.version,
            "score": score,
            "decision": outcome.action or "allow",
        }
        logger.info("risk shadow model %s scored %d", shadow["model_version"], score)
        return shadow

    async def _record(
        self,
        session: Session,
        signals: PaymentSignals,
        snapshot: LiveSnapshot,
        keys: Mapping[str, str],
        entities: Mapping[str, str],
    ) -> None:
        now = signals.timestamp
        updated = recorded_states(signals, snapshot, keys, entities)
        day = int(now // SECONDS_PER_DAY)
        shard = zlib.crc32((keys.get("card") or str(now)).encode()) % TERMINAL_DAY_SHARDS
        await self.store.write(
            session,
            signals.merchant_id,
            updated,
            day=day,
            shard=shard,
            transactions=1,
            frauds=0,
            updated_at=now,
            first_seen=merchant_first_seen_to_write(snapshot, now),
        )

    # ------------------------------------------------------------ labels

    async def record_fraud(self, session: Session, signals: PaymentSignals) -> None:
        """A past payment is known to be fraud: its card, customer and merchant learn it."""
        await self._relabel(session, signals, is_fraud=True)

    async def forget_fraud(self, session: Session, signals: PaymentSignals) -> None:
        """A fraud label was withdrawn (the payment is legitimate after all): undo
        `record_fraud` on the card, customer and merchant counters."""
        await self._relabel(session, signals, is_fraud=False)

    async def _relabel(self, session: Session, signals: PaymentSignals, *, is_fraud: bool) -> None:
        keys = label_keys(signals)
        days = terminal_day_range(signals.timestamp, self.label_delay_seconds)
        snapshot = await self.store.read(
            session, signals.merchant_id, list(keys.values()), days, for_update=True
        )
        updated = relabelled_states(signals, snapshot, keys, is_fraud=is_fraud)
        await self.store.write(
            session,
            signals.merchant_id,
            updated,
            day=int(signals.timestamp // SECONDS_PER_DAY),
            # Labels always count on shard 0, so a withdrawn one is taken from the row
            # that holds it and no shard's count goes below zero.
            shard=0,
            transactions=0,
            frauds=1 if is_fraud else -1,
            updated_at=time.time(),
        )


async def ensure_not_held(session: Session, intent: Any) -> None:
    """Refuse to capture a payment whose review is still open."""
    review_id = getattr(intent, "review_id", None)
    if review_id is None:
        return
    review = await repository.get_review(session, intent.merchant_id, review_id)
    if review is not None and review.status == ReviewStatus.OPEN.value:
        raise InvalidState(
            f"This PaymentIntent is held for review ({review_id}); approve the review "
            "to capture it.",
            code="payment_intent_unexpected_state",
        )


def build_risk_service(settings: Settings) -> RiskService | None:
    """The risk engine from settings; None when SMARTPAY_RISK_ENABLED is false."""
    if not settings.risk_enabled:
        return None
    store: LiveFeatureStore
    if settings.risk_store == "redis":
        if not settings.redis_url:
            raise ValueError("SMARTPAY_RISK_STORE=redis needs SMARTPAY_REDIS_URL")
        store = RedisLiveFeatureStore(settings.redis_url)
    else:
        store = SqlLiveFeatureStore()
    model = (
        RiskModel.load(Path(settings.risk_model_dir))
        if settings.risk_model_dir
        else shipped_model()
    )
    shadow = (
        RiskModel.load(Path(settings.risk_shadow_model_dir))
        if settings.risk_shadow_model_dir
        else None
    )
    return RiskService(settings, store, model, shadow)
