"""A card-transaction simulator with three fraud scenarios.

Written from the description of the simulator in *Reproducible Machine Learning for
Credit Card Fraud Detection — Practical Handbook* (Le Borgne, Siblini, Lebichot,
Bontempi, 2022), so that SmartPay's figures can be compared with the handbook's.
Customers and terminals sit on a 100×100 grid; a customer spends at the terminals
within a radius of where it lives; three scenarios inject fraud:

1. any amount over 220 is fraud (a rule a model must learn);
2. each day, two terminals are compromised and all their transactions in the next
   28 days are fraud (learnt only once labels come back);
3. each day, three customers' credentials leak and in the next 14 days one third of
   their transactions are five times their usual amount and fraud.

Generation is vectorized with NumPy one day at a time; 183 days (about 1.7 million
transactions) take a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from smartpay.risk.transactions import CENTS_PER_UNIT, TransactionTable

SECONDS_PER_DAY = 86_400


class FraudScenario(IntEnum):
    """Why a simulated transaction is fraud (0: it is not)."""

    LEGITIMATE = 0
    HIGH_AMOUNT = 1  # scenario 1: amount over the threshold
    COMPROMISED_TERMINAL = 2  # scenario 2: terminal compromised for a period
    COMPROMISED_CUSTOMER = 3  # scenario 3: customer credentials leaked, inflated amounts


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """Every number the simulation uses; the defaults are the handbook's."""

    seed: int = 0
    n_customers: int = 5_000
    n_terminals: int = 10_000
    n_days: int = 183
    start_date: date = date(2018, 4, 1)
    grid_size: float = 100.0
    # A customer uses the terminals within this distance of where it lives.
    terminal_radius: float = 5.0
    # Mean amount per customer ~ U(low, high); its standard deviation is half the mean.
    mean_amount_low: float = 5.0
    mean_amount_high: float = 100.0
    amount_std_ratio: float = 0.5
    # Transactions per day ~ Poisson(λ) with λ ~ U(0, high) per customer.
    max_transactions_per_day: float = 4.0
    # Time of day ~ N(noon, 20,000 s); times outside the day are dropped.
    time_of_day_mean_seconds: float = 43_200.0
    time_of_day_std_seconds: float = 20_000.0
    # Scenario 1.
    high_amount_threshold: float = 220.0
    # Scenario 2.
    compromised_terminals_per_day: int = 2
    terminal_compromise_days: int = 28
    # Scenario 3.
    compromised_customers_per_day: int = 3
    customer_compromise_days: int = 14
    compromised_customer_fraud_share: float = 1 / 3
    compromised_amount_multiplier: float = 5.0


@dataclass(slots=True)
class Simulation:
    """The generated transactions, sorted by time, with why each fraud is fraud."""

    config: SimulationConfig
    table: TransactionTable
    fraud_scenario: npt.NDArray[np.int8]
    customer_index: npt.NDArray[np.int64]
    terminal_index: npt.NDArray[np.int64]
    # (first day, index) of every terminal compromise and customer compromise drawn.
    compromised_terminals: list[tuple[int, int]]
    compromised_customers: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class _Population:
    customer_mean_amount: npt.NDArray[np.float64]
    customer_std_amount: npt.NDArray[np.float64]
    customer_rate: npt.NDArray[np.float64]
    # Terminals reachable by customer c: reachable[offsets[c]:offsets[c + 1]].
    reachable_offsets: npt.NDArray[np.int64]
    reachable: npt.NDArray[np.int64]


def customer_id(index: int) -> str:
    return f"C{index:05d}"


def terminal_id(index: int) -> str:
    return f"T{index:05d}"


def _population(config: SimulationConfig, rng: np.random.Generator) -> _Population:
    customer_xy = rng.uniform(0, config.grid_size, size=(config.n_customers, 2))
    mean_amount = rng.uniform(
        config.mean_amount_low, config.mean_amount_high, size=config.n_customers
    )
    rate = rng.uniform(0, config.max_transactions_per_day, size=config.n_customers)
    terminal_xy = rng.uniform(0, config.grid_size, size=(config.n_terminals, 2))
    offsets = [0]
    reachable_parts: list[npt.NDArray[np.int64]] = []
    # 500 customers × 10,000 terminals of distances at a time: 40 MB, not 400.
    chunk = 500
    radius_squared = config.terminal_radius**2
    for start in range(0, config.n_customers, chunk):
        block = customer_xy[start : start + chunk]
        squared = ((block[:, None, :] - terminal_xy[None, :, :]) ** 2).sum(axis=2)
        for row in squared:
            near = np.flatnonzero(row < radius_squared).astype(np.int64)
            reachable_parts.append(near)
            offsets.append(offsets[-1] + len(near))
    return _Population(
        customer_mean_amount=mean_amount,
        customer_std_amount=mean_amount * config.amount_std_ratio,
        customer_rate=rate,
        reachable_offsets=np.asarray(offsets, dtype=np.int64),
        reachable=np.concatenate(reachable_parts) if reachable_parts else np.zeros(0, np.int64),
    )


def _one_day(
    day: int, config: SimulationConfig, population: _Population, rng: np.random.Generator
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]
]:
    """(seconds since the start, customer, terminal, amount) of one day's transactions."""
    reach_counts = np.diff(population.reachable_offsets)
    counts = rng.poisson(population.customer_rate)
    counts[reach_counts == 0] = 0  # a customer with no terminal nearby cannot pay
    customers = np.repeat(np.arange(config.n_customers, dtype=np.int64), counts)
    seconds = rng.normal(
        config.time_of_day_mean_seconds, config.time_of_day_std_seconds, size=len(customers)
    )
    in_day = (seconds >= 0) & (seconds < SECONDS_PER_DAY)
    customers, seconds = customers[in_day], seconds[in_day]
    amounts = rng.normal(
        population.customer_mean_amount[customers], population.customer_std_amount[customers]
    )
    # A negative draw is reflected to its absolute value: it keeps the customer's spread
    # and never invents a zero amount.
    amounts = np.abs(amounts)
    picks = np.floor(rng.uniform(size=len(customers)) * reach_counts[customers]).astype(np.int64)
    terminals = population.reachable[population.reachable_offsets[customers] + picks]
    times = day * SECONDS_PER_DAY + seconds.astype(np.int64)
    return times, customers, terminals, amounts


def _inject_compromised_terminals(
    config: SimulationConfig,
    rng: np.random.Generator,
    times: npt.NDArray[np.int64],
    terminals: npt.NDArray[np.int64],
    is_fraud: npt.NDArray[np.int8],
    scenario: npt.NDArray[np.int8],
) -> list[tuple[int, int]]:
    drawn_terminals: list[tuple[int, int]] = []
    order = np.lexsort((times, terminals))
    sorted_terminals, sorted_times = terminals[order], times[order]
    for day in range(config.n_days):
        drawn = rng.choice(config.n_terminals, config.compromised_terminals_per_day, replace=False)
        begin, end = (
            day * SECONDS_PER_DAY,
            (day + config.terminal_compromise_days) * SECONDS_PER_DAY,
        )
        for terminal in drawn:
            drawn_terminals.append((day, int(terminal)))
            low = np.searchsorted(sorted_terminals, terminal, side="left")
            high = np.searchsorted(sorted_terminals, terminal, side="right")
            window = sorted_times[low:high]
            first = low + np.searchsorted(window, begin, side="left")
            last = low + np.searchsorted(window, end, side="left")
            hit = order[first:last]
            is_fraud[hit] = 1
            scenario[hit] = FraudScenario.COMPROMISED_TERMINAL
    return drawn_terminals


def _inject_compromised_customers(
    config: SimulationConfig,
    rng: np.random.Generator,
    times: npt.NDArray[np.int64],
    customers: npt.NDArray[np.int64],
    amounts: npt.NDArray[np.float64],
    is_fraud: npt.NDArray[np.int8],
    scenario: npt.NDArray[np.int8],
) -> list[tuple[int, int]]:
    drawn_customers: list[tuple[int, int]] = []
    order = np.lexsort((times, customers))
    sorted_customers, sorted_times = customers[order], times[order]
    for day in range(config.n_days):
        drawn = rng.choice(config.n_customers, config.compromised_customers_per_day, replace=False)
        begin, end = (
            day * SECONDS_PER_DAY,
            (day + config.customer_compromise_days) * SECONDS_PER_DAY,
        )
        for customer in drawn:
            drawn_customers.append((day, int(customer)))
            low = np.searchsorted(sorted_customers, customer, side="left")
            high = np.searchsorted(sorted_customers, customer, side="right")
            window = sorted_times[low:high]
            first = low + np.searchsorted(window, begin, side="left")
            last = low + np.searchsorted(window, end, side="left")
            candidates = order[first:last]
            n_fraud = int(len(candidates) * config.compromised_customer_fraud_share)
            if n_fraud == 0:
                continue
            hit = rng.choice(candidates, n_fraud, replace=False)
            amounts[hit] *= config.compromised_amount_multiplier
            is_fraud[hit] = 1
            scenario[hit] = FraudScenario.COMPROMISED_CUSTOMER
    return drawn_customers


def simulate(
    config: SimulationConfig | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Simulation:
    """Generate transactions; `on_progress(done, total)` is called once per day."""
    config = config or SimulationConfig()
    rng = np.random.default_rng(config.seed)
    population = _population(config, rng)
    day_parts = []
    for day in range(config.n_days):
        day_parts.append(_one_day(day, config, population, rng))
        if on_progress is not None:
            on_progress(day + 1, config.n_days)
    times = np.concatenate([part[0] for part in day_parts])
    customers = np.concatenate([part[1] for part in day_parts])
    terminals = np.concatenate([part[2] for part in day_parts])
    amounts = np.concatenate([part[3] for part in day_parts])
    order = np.argsort(times, kind="stable")
    times, customers, terminals, amounts = (
        times[order],
        customers[order],
        terminals[order],
        amounts[order],
    )
    # Amounts are whole cents from here on, so scenario 1 and the CSV see the same value.
    amounts = np.maximum(np.round(amounts * CENTS_PER_UNIT), 1) / CENTS_PER_UNIT

    is_fraud = np.zeros(len(times), dtype=np.int8)
    scenario = np.zeros(len(times), dtype=np.int8)
    high = amounts > config.high_amount_threshold
    is_fraud[high] = 1
    scenario[high] = FraudScenario.HIGH_AMOUNT
    compromised_terminals = _inject_compromised_terminals(
        config, rng, times, terminals, is_fraud, scenario
    )
    compromised_customers = _inject_compromised_customers(
        config, rng, times, customers, amounts, is_fraud, scenario
    )

    start = datetime(
        config.start_date.year, config.start_date.month, config.start_date.day, tzinfo=UTC
    ).timestamp()
    customer_names = [customer_id(index) for index in range(config.n_customers)]
    terminal_names = [terminal_id(index) for index in range(config.n_terminals)]
    table = TransactionTable(
        transaction_ids=[str(index) for index in range(len(times))],
        timestamps=start + times.astype(np.float64),
        customer_ids=[customer_names[index] for index in customers.tolist()],
        terminal_ids=[terminal_names[index] for index in terminals.tolist()],
        amounts_cents=np.round(amounts * CENTS_PER_UNIT).astype(np.int64),
        is_fraud=is_fraud,
    )
    return Simulation(
        config=config,
        table=table,
        fraud_scenario=scenario,
        customer_index=customers,
        terminal_index=terminals,
        compromised_terminals=compromised_terminals,
        compromised_customers=compromised_customers,
    )
