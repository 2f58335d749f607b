"""``smartpay routing simulate``: routing policies against a simulated world.

The world: three processors whose true approval rates differ by card brand, issuing
country and amount band, and change over the run — ``atlas`` (a global acquirer, best on
US cards) slowly degrades, ``cedar`` (cheapest, strong on Brazilian cards) slowly
improves everywhere, ``bolt`` (the European acquirer) has a full outage for 5% of the
run. Some payments are declined by the card itself whatever the processor (lost, stolen,
expired…), some issuer declines are retryable, every processor has a small technical
error rate. Each payment draws its random numbers once, shared by every policy (common
random numbers), so policies differ only by their choices.

The policies, all with the same cascade (after a technical error or a retryable soft
decline, the next processor of their order, at most ``max_attempts``):

- ``fixed_priority``: the processor best on average at the start first, then the others;
- ``round_robin``: rotates which processor goes first;
- ``cheapest_first``: by fee;
- ``smartpay``: ``Router`` with ``ThompsonStrategy`` and the circuit breakers, exactly the
  code live payments use, over a ``MemoryRoutingStore``;
- ``sliding_window``: the same ``Router`` with ``SlidingWindowStrategy`` (the alternative);
- ``oracle``: knows every true rate at every moment (not the draws) and ranks by the same
  objective with them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from smartpay.routing.bandit import (
    CandidateScore,
    Observation,
    OutcomeKind,
    PaymentContext,
    SlidingWindowStrategy,
    Strategy,
    StrategyWeights,
    ThompsonStrategy,
    WindowStats,
    _objective,
)
from smartpay.routing.breaker import BreakerPolicy
from smartpay.routing.schemas import RoutingConfig
from smartpay.routing.service import Router
from smartpay.routing.store import MemoryRoutingStore

# The simulated run spans a week: 200,000 payments is then ~20,000 a day, a mid-sized
# merchant, and a day-long drift or a few-hours outage is something routing must follow.
DEFAULT_PAYMENTS: Final = 200_000
RUN_SECONDS: Final = 7 * 86_400
CHART_POINTS: Final = 100

BRANDS: Final = (("visa", 0.55), ("mastercard", 0.30), ("amex", 0.15))
COUNTRIES: Final = (("US", 0.45), ("GB", 0.15), ("DE", 0.20), ("BR", 0.20))
CURRENCY_OF: Final = {"US": "usd", "GB": "gbp", "DE": "eur", "BR": "brl"}
# Cross-border shoppers paying in dollars.
CROSS_BORDER_USD: Final = 0.10
# Declines any processor gets (lost, stolen, expired, fraudulent, no funds): a few percent
# of card-not-present traffic, in line with published card-issuer decline breakdowns.
CARD_CAUSED_RATE: Final = 0.03
# Share of issuer declines answered with a "try again" code (cascaded).
RETRYABLE_SHARE: Final = 0.15
OUTAGE: Final = (0.55, 0.60)  # bolt is down for this part of the run


@dataclass(frozen=True, slots=True)
class SimProcessor:
    name: str
    fee_bps: int
    fee_fixed: int
    latency_ms: float
    technical_error: float
    by_country: dict[str, float]
    by_brand: dict[str, float]
    by_band: dict[str, float]
    drift: Callable[[float], float]  # progress 0..1 -> multiplier of the approval rate
    outage: tuple[float, float] | None = None

    def fee(self, amount: int) -> int:
        return (amount * self.fee_bps + 5_000) // 10_000 + self.fee_fixed

    def approval(self, brand: str, country: str, band: str, progress: float) -> float:
        rate = self.by_country[country] * self.by_brand[brand] * self.by_band[band]
        return min(0.995, rate * self.drift(progress))

    def error_rate(self, progress: float) -> float:
        if self.outage is not None and self.outage[0] <= progress < self.outage[1]:
            return 1.0
        return self.technical_error


def world() -> list[SimProcessor]:
    """The three processors (see the module docstring)."""
    return [
        SimProcessor(
            "atlas",
            290,
            30,
            260.0,
            0.004,
            {"US": 0.95, "GB": 0.90, "DE": 0.86, "BR": 0.80},
            {"visa": 1.0, "mastercard": 0.99, "amex": 0.97},
            {"small": 1.0, "medium": 0.99, "large": 0.95},
            lambda p: 1.0 - 0.08 * p,  # degrades: -8% of its rate over the week
        ),
        SimProcessor(
            "bolt",
            250,
            25,
            190.0,
            0.004,
            {"US": 0.88, "GB": 0.93, "DE": 0.96, "BR": 0.78},
            {"visa": 1.0, "mastercard": 1.0, "amex": 0.92},
            {"small": 1.0, "medium": 1.0, "large": 0.97},
            lambda p: 1.0,
            OUTAGE,
        ),
        SimProcessor(
            "cedar",
            220,
            20,
            340.0,
            0.006,
            {"US": 0.86, "GB": 0.85, "DE": 0.86, "BR": 0.93},
            {"visa": 1.0, "mastercard": 0.98, "amex": 0.95},
            {"small": 1.0, "medium": 1.0, "large": 0.99},
            lambda p: 0.96 + 0.08 * p,  # improves: +8% of its rate over the week
        ),
    ]


@dataclass(slots=True)
class Payment:
    at: float
    progress: float
    context: PaymentContext
    card_caused: bool
    # per processor: (technical draw, approval draw, retryable draw, latency factor)
    draws: dict[str, tuple[float, float, float, float]]


def _pick(rng: random.Random, table: Sequence[tuple[str, float]]) -> str:
    draw = rng.random()
    for value, share in table:
        if draw < share:
            return value
        draw -= share
    return table[-1][0]


def payments(count: int, seed: int, processors: Sequence[SimProcessor]) -> list[Payment]:
    """The run's payments, generated up front from the seed."""
    from smartpay.connectors.facts import amount_band

    rng = random.Random(seed)  # noqa: S311 - simulation, not security
    generated = []
    for index in range(count):
        brand = _pick(rng, BRANDS)
        country = _pick(rng, COUNTRIES)
        currency = "usd" if rng.random() < CROSS_BORDER_USD else CURRENCY_OF[country]
        # Log-normal basket: median 45.00, a long tail of large orders.
        amount = max(100, int(math.exp(rng.gauss(math.log(4_500), 1.0))))
        progress = index / count
        generated.append(
            Payment(
                at=progress * RUN_SECONDS,
                progress=progress,
                context=PaymentContext(
                    merchant_id="acct_sim",
                    amount=amount,
                    currency=currency,
                    brand=brand,
                    country=country,
                    amount_band=amount_band(amount, currency),
                ),
                card_caused=rng.random() < CARD_CAUSED_RATE,
                draws={
                    p.name: (rng.random(), rng.random(), rng.random(), rng.gauss(0.0, 0.25))
                    for p in processors
                },
            )
        )
    return generated


@dataclass(slots=True)
class Tally:
    approved: int = 0
    fees: int = 0
    net: int = 0  # approved amounts minus fees, in minor units (all currencies 2-decimal)
    attempts: int = 0
    failed_technical: int = 0  # payments that ended on a technical error: nothing worked
    series: list[int] = field(default_factory=list)  # approvals per chart bucket


class Policy:
    name = "policy"

    def order(self, payment: Payment) -> list[str]:
        raise NotImplementedError

    def observe(
        self, payment: Payment, processor: str, observation: Observation, latency: float
    ) -> None:
        return None


class StaticPolicy(Policy):
    def __init__(self, name: str, order: list[str]) -> None:
        self.name = name
        self._order = order

    def order(self, payment: Payment) -> list[str]:
        return self._order


class RoundRobin(Policy):
    name = "round_robin"

    def __init__(self, names: list[str]) -> None:
        self._names = names
        self._next = 0

    def order(self, payment: Payment) -> list[str]:
        start = self._next
        self._next = (self._next + 1) % len(self._names)
        return self._names[start:] + self._names[:start]


class RouterPolicy(Policy):
    """Live routing's ``Router`` over an in-memory store: the one code path."""

    def __init__(
        self,
        name: str,
        processors: Sequence[SimProcessor],
        strategy: Strategy,
        breaker_policy: BreakerPolicy,
        half_life: float,
        seed: int,
        window: WindowStats | None = None,
    ) -> None:
        self.name = name
        fees = {p.name: p for p in processors}
        self.router = Router(
            [p.name for p in processors],
            lambda name, amount, currency: fees[name].fee(amount),
            strategy,
            breaker_policy,
        )
        self.store = MemoryRoutingStore(half_life, breaker_policy)
        self.config = RoutingConfig()
        self.rng = random.Random(seed)  # noqa: S311 - simulation, not security
        self.window = window

    def order(self, payment: Payment) -> list[str]:
        view = self.store.view()
        decision = self.router.decide(
            payment.context, self.config, view, view.breakers, self.rng, payment.at
        )
        return decision.processors

    def observe(
        self, payment: Payment, processor: str, observation: Observation, latency: float
    ) -> None:
        self.store.record_now(processor, payment.context.segment, observation, latency, payment.at)
        if self.window is not None and observation.counted:
            self.window.observe(processor, payment.context.segment, observation.success, payment.at)


class Oracle(Policy):
    name = "oracle"

    def __init__(self, processors: Sequence[SimProcessor], weights: StrategyWeights) -> None:
        self.processors = processors
        self.weights = weights

    def order(self, payment: Payment) -> list[str]:
        c = payment.context
        scored = []
        for p in self.processors:
            ok = p.approval(c.brand or "", c.country or "", c.amount_band, payment.progress)
            p_approve = (1.0 - p.error_rate(payment.progress)) * ok
            score = _objective(c.amount, p_approve, p.fee(c.amount), p.latency_ms, self.weights)
            scored.append((score, p.name))
        scored.sort(reverse=True)
        return [name for _, name in scored]


def _attempt(p: SimProcessor, payment: Payment) -> tuple[Observation, bool, float]:
    """(observation, cascade?, latency) of sending ``payment`` to ``p``."""
    technical, approval, retryable, noise = payment.draws[p.name]
    latency = p.latency_ms * math.exp(noise)
    c = payment.context
    if technical < p.error_rate(payment.progress):
        return Observation(OutcomeKind.TECHNICAL), True, latency
    if payment.card_caused:
        return Observation(OutcomeKind.CARD_DECLINE, "stolen_card"), False, latency
    if approval < p.approval(c.brand or "", c.country or "", c.amount_band, payment.progress):
        return Observation(OutcomeKind.APPROVED), False, latency
    if retryable < RETRYABLE_SHARE:
        return Observation(OutcomeKind.SOFT_DECLINE, "try_again_later"), True, latency
    return Observation(OutcomeKind.SOFT_DECLINE, "do_not_honor"), False, latency


def run_policy(
    policy: Policy,
    run: Sequence[Payment],
    processors: Sequence[SimProcessor],
    max_attempts: int,
    tick: Callable[[], None] | None = None,
) -> Tally:
    by_name = {p.name: p for p in processors}
    tally = Tally()
    bucket = max(1, len(run) // CHART_POINTS)
    approved_in_bucket = 0
    for index, payment in enumerate(run):
        approved = False
        technical_end = False
        for position, name in enumerate(policy.order(payment)):
            if position >= max_attempts:
                break
            processor = by_name[name]
            observation, cascade, latency = _attempt(processor, payment)
            tally.attempts += 1
            policy.observe(payment, name, observation, latency)
            if observation.kind is OutcomeKind.APPROVED:
                approved = True
                fee = processor.fee(payment.context.amount)
                tally.fees += fee
                tally.net += payment.context.amount - fee
            technical_end = observation.kind is OutcomeKind.TECHNICAL
            if not cascade:
                break
        tally.approved += approved
        tally.failed_technical += technical_end
        approved_in_bucket += approved
        if (index + 1) % bucket == 0:
            tally.series.append(approved_in_bucket)
            approved_in_bucket = 0
        if tick is not None and index % 1000 == 0:
            tick()
    return tally


@dataclass(frozen=True, slots=True)
class SimulationResult:
    payments: int
    results: dict[str, Tally]

    def summary(self) -> dict[str, dict[str, Any]]:
        oracle = self.results["oracle"]
        oracle_rate = oracle.approved / self.payments
        return {
            name: {
                "approval_rate": round(tally.approved / self.payments, 5),
                "fees": tally.fees,
                # Percentage points of approval rate below the oracle's.
                "regret_vs_oracle": round((oracle_rate - tally.approved / self.payments) * 100, 3),
                "net_revenue": tally.net,
                "net_regret_vs_oracle": oracle.net - tally.net,
                "attempts": tally.attempts,
                "failed_on_technical_error": tally.failed_technical,
            }
            for name, tally in self.results.items()
        }


def simulate(
    count: int = DEFAULT_PAYMENTS,
    seed: int = 7,
    *,
    weights: StrategyWeights | None = None,
    breaker_policy: BreakerPolicy | None = None,
    max_attempts: int = 3,
    window_seconds: float = 12 * 3600,
    exploration: float = 0.02,
    include: Sequence[str] | None = None,
    tick: Callable[[], None] | None = None,
) -> SimulationResult:
    weights = weights or StrategyWeights()
    breaker_policy = breaker_policy or BreakerPolicy()
    processors = world()
    run = payments(count, seed, processors)
    names = [p.name for p in processors]
    # "Fixed priority" is the best static order a merchant could pick from the start:
    # processors by their true average approval over the first day's traffic.
    first_day = [pay for pay in run if pay.at < 86_400] or run

    def start_rate(p: SimProcessor) -> float:
        return sum(
            p.approval(x.context.brand or "", x.context.country or "", x.context.amount_band, 0)
            for x in first_day
        ) / len(first_day)

    priority = sorted(names, key=lambda n: -start_rate(next(p for p in processors if p.name == n)))
    cheapest = sorted(names, key=lambda n: next(p for p in processors if p.name == n).fee(4_500))
    window = WindowStats(window_seconds)
    policies: list[Policy] = [
        StaticPolicy("fixed_priority", priority),
        RoundRobin(names),
        StaticPolicy("cheapest_first", cheapest),
        RouterPolicy(
            "smartpay",
            processors,
            ThompsonStrategy(weights),
            breaker_policy,
            weights.half_life_seconds,
            seed,
        ),
        RouterPolicy(
            "sliding_window",
            processors,
            SlidingWindowStrategy(weights, window, exploration),
            breaker_policy,
            weights.half_life_seconds,
            seed,
            window,
        ),
        Oracle(processors, weights),
    ]
    results = {}
    for policy in policies:
        if include is not None and policy.name not in include and policy.name != "oracle":
            continue
        results[policy.name] = run_policy(policy, run, processors, max_attempts, tick)
    return SimulationResult(count, results)


# ----------------------------------------------------------------------------- chart

_COLOURS: Final = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def chart_svg(result: SimulationResult, width: int = 900, height: int = 420) -> str:
    """Approval rate over the run, one line per policy, as a self-contained SVG."""
    left, right, top, bottom = 60, 170, 30, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    bucket = max(1, result.payments // CHART_POINTS)
    rates = {
        name: [count / bucket for count in tally.series] for name, tally in result.results.items()
    }
    values = [v for series in rates.values() for v in series] or [0.0, 1.0]
    low = math.floor(min(values) * 50) / 50
    high = math.ceil(max(values) * 50) / 50
    span = (high - low) or 1.0

    def x(i: int, n: int) -> float:
        return left + plot_w * (i / max(1, n - 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - low) / span)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="18" font-size="14">Approval rate over the run '
        f"({result.payments:,} payments, {CHART_POINTS} buckets)</text>",
    ]
    steps = 5
    for k in range(steps + 1):
        v = low + span * k / steps
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#ddd"/>'
        )
        parts.append(f'<text x="{left - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0%}</text>')
    outage_x0 = left + plot_w * OUTAGE[0]
    outage_w = plot_w * (OUTAGE[1] - OUTAGE[0])
    parts.append(
        f'<rect x="{outage_x0:.1f}" y="{top}" width="{outage_w:.1f}" height="{plot_h}" '
        'fill="#f4cccc" opacity="0.5"/>'
    )
    parts.append(f'<text x="{outage_x0:.1f}" y="{top + 12}">bolt outage</text>')
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">'
        "progress of the run (one simulated week)</text>"
    )
    for index, (name, series) in enumerate(rates.items()):
        colour = _COLOURS[index % len(_COLOURS)]
        points = " ".join(f"{x(i, len(series)):.1f},{y(v):.1f}" for i, v in enumerate(series))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'
        )
        ly = top + 20 + index * 18
        parts.append(
            f'<line x1="{left + plot_w + 15}" x2="{left + plot_w + 35}" y1="{ly}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="3"/>'
        )
        parts.append(f'<text x="{left + plot_w + 40}" y="{ly + 4}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def write_chart(result: SimulationResult, path: Path) -> None:
    path.write_text(chart_svg(result))


__all__ = ["CandidateScore", "SimulationResult", "chart_svg", "simulate", "write_chart"]
