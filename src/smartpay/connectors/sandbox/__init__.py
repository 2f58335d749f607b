"""The sandbox processor: deterministic, Stripe-test-card compatible, the default in
development and tests. See ``connector`` for behaviour and ``models`` for its books."""

from __future__ import annotations

from smartpay.connectors.sandbox.connector import (
    DEFAULT_PROFILE_NAME,
    TEST_CARDS,
    CardScenario,
    SandboxConnector,
    SandboxProfile,
    parse_profiles,
)

__all__ = [
    "DEFAULT_PROFILE_NAME",
    "TEST_CARDS",
    "CardScenario",
    "SandboxConnector",
    "SandboxProfile",
    "parse_profiles",
]
