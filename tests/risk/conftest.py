"""Small simulations shared by the risk tests (generated once per session, in memory)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pytest

from smartpay.risk.features import replay_features
from smartpay.risk.simulator import Simulation, SimulationConfig, simulate

# A tenth of the handbook's population keeps each customer's ~80 reachable terminals
# (the density is what matters) and replays in a couple of seconds.
SMALL = SimulationConfig(
    seed=7, n_customers=500, n_terminals=1_000, n_days=70, start_date=date(2018, 4, 1)
)


@dataclass(frozen=True)
class Replayed:
    simulation: Simulation
    features: npt.NDArray[np.float64]


@pytest.fixture(scope="session")
def small_simulation() -> Simulation:
    return simulate(SMALL)


@pytest.fixture(scope="session")
def small_replayed(small_simulation: Simulation) -> Replayed:
    return Replayed(small_simulation, replay_features(small_simulation.table))
