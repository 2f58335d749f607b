"""The simulator: the handbook's population and its three fraud scenarios."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from smartpay.risk.simulator import SECONDS_PER_DAY, FraudScenario, Simulation, simulate
from tests.risk.conftest import SMALL


def _day_and_second(simulation: Simulation) -> tuple[np.ndarray, np.ndarray]:
    start = simulation.table.timestamps[0] - simulation.table.timestamps[0] % SECONDS_PER_DAY
    elapsed = simulation.table.timestamps - start
    return (elapsed // SECONDS_PER_DAY).astype(int), elapsed % SECONDS_PER_DAY


def test_same_seed_same_transactions_and_another_seed_others() -> None:
    config = replace(SMALL, n_days=5)
    first, again, other = simulate(config), simulate(config), simulate(replace(config, seed=8))
    assert first.table.transaction_ids == again.table.transaction_ids
    assert np.array_equal(first.table.amounts_cents, again.table.amounts_cents)
    assert np.array_equal(first.table.timestamps, again.table.timestamps)
    assert not np.array_equal(first.table.amounts_cents[:100], other.table.amounts_cents[:100])


def test_transactions_are_sorted_within_days_and_amounts_positive(
    small_simulation: Simulation,
) -> None:
    table = small_simulation.table
    days, _ = _day_and_second(small_simulation)
    assert np.all(np.diff(table.timestamps) >= 0)
    assert days.min() == 0 and days.max() == SMALL.n_days - 1
    assert table.amounts_cents.min() >= 1
    # Around 2 transactions per customer per day (λ ~ U(0, 4)), less those outside the day.
    per_customer_day = len(table) / SMALL.n_customers / SMALL.n_days
    assert 1.6 < per_customer_day < 2.1


def test_scenario_one_every_amount_over_220_is_fraud(small_simulation: Simulation) -> None:
    table = small_simulation.table
    over = table.amounts_cents > 220_00
    assert over.sum() > 0
    assert np.all(table.is_fraud[over] == 1)
    assert (small_simulation.fraud_scenario == FraudScenario.HIGH_AMOUNT).sum() > 0


def test_scenario_two_compromised_terminals_defraud_for_28_days(
    small_simulation: Simulation,
) -> None:
    days, _ = _day_and_second(small_simulation)
    terminals = small_simulation.terminal_index
    assert len(small_simulation.compromised_terminals) == 2 * SMALL.n_days
    checked = 0
    for first_day, terminal in small_simulation.compromised_terminals:
        in_window = (terminals == terminal) & (days >= first_day) & (days < first_day + 28)
        assert np.all(small_simulation.table.is_fraud[in_window] == 1)
        checked += int(in_window.sum())
    assert checked > 1000
    scenario_two = small_simulation.fraud_scenario == FraudScenario.COMPROMISED_TERMINAL
    assert scenario_two.sum() > 0


def test_scenario_three_a_third_of_a_leaked_customers_spending_is_five_times_and_fraud(
    small_simulation: Simulation,
) -> None:
    scenario_three = small_simulation.fraud_scenario == FraudScenario.COMPROMISED_CUSTOMER
    amounts = small_simulation.table.amounts_cents / 100
    customers = small_simulation.customer_index
    # The customers' usual amounts are U(5, 100) on average; ×5 frauds average far more.
    assert scenario_three.sum() > 100
    usual = amounts[small_simulation.fraud_scenario == FraudScenario.LEGITIMATE].mean()
    assert amounts[scenario_three].mean() > 3.5 * usual
    days, _ = _day_and_second(small_simulation)
    shares = []
    for first_day, customer in small_simulation.compromised_customers:
        window = (customers == customer) & (days >= first_day) & (days < first_day + 14)
        if window.sum() >= 9:
            shares.append(small_simulation.table.is_fraud[window].mean())
    assert 0.3 < float(np.mean(shares)) < 0.6  # a third, plus the other scenarios' frauds


def test_times_of_day_centre_on_noon(small_simulation: Simulation) -> None:
    _, seconds = _day_and_second(small_simulation)
    assert abs(np.mean(seconds) - 43_200) < 600
    assert seconds.min() >= 0 and seconds.max() < SECONDS_PER_DAY
