"""The connector registry: processors enabled by Settings, in order, with clear errors."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from smartpay.config import Settings
from smartpay.connectors.base import AuthorizeRequest, AuthOutcome, CardData, Connector
from smartpay.connectors.registry import (
    CONNECTOR_KINDS,
    ConnectorBuilder,
    ConnectorRegistry,
    build_registry,
)
from smartpay.connectors.sandbox import SandboxConnector, SandboxProfile
from smartpay.kit.db import Database

PROFILES = '{"sandbox": {}, "sandbox_eu": {"latency_ms": 0, "fee_basis_points": 150}}'


async def test_default_settings_give_one_sandbox(database: Database) -> None:
    registry = build_registry(Settings(processors="sandbox", sandbox_profiles=""), database)
    assert registry.names == ["sandbox"]
    connector = registry.get("sandbox")
    assert isinstance(connector, SandboxConnector)
    assert registry.default is connector
    result = await connector.authorize(
        AuthorizeRequest(
            idempotency_key="att_1",
            merchant_id="acct_1",
            amount=1_000,
            currency="usd",
            card=CardData("4242424242424242", 12, 2040),
            capture=True,
        )
    )
    assert result.outcome is AuthOutcome.APPROVED


def test_names_follow_configured_order(database: Database) -> None:
    settings = Settings(processors=" sandbox_eu , sandbox ", sandbox_profiles=PROFILES)
    registry = build_registry(settings, database)
    assert registry.names == ["sandbox_eu", "sandbox"]
    assert registry.default.name == "sandbox_eu"
    eu = registry.get("sandbox_eu")
    assert isinstance(eu, SandboxConnector)
    assert eu.profile.fee_basis_points == 150
    assert "sandbox" in registry and len(registry) == 2
    # names is a copy: callers cannot reorder the registry.
    registry.names.reverse()
    assert registry.names == ["sandbox_eu", "sandbox"]


def test_only_enabled_profiles_are_built(database: Database) -> None:
    registry = build_registry(Settings(processors="sandbox", sandbox_profiles=PROFILES), database)
    assert registry.names == ["sandbox"]


def test_unknown_name_lists_known_ones(database: Database) -> None:
    registry = build_registry(
        Settings(processors="sandbox,sandbox_eu", sandbox_profiles=PROFILES), database
    )
    with pytest.raises(KeyError, match="enabled processors: sandbox, sandbox_eu"):
        registry.get("stripe")


@pytest.mark.parametrize(
    ("processors", "message"),
    [
        ("sandbox,paypal", "unknown processors 'paypal'; available: sandbox, sandbox_eu"),
        (" , ", "SMARTPAY_PROCESSORS is empty"),
        ("sandbox,sandbox", "configured twice"),
    ],
)
def test_bad_processor_settings(database: Database, processors: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_registry(Settings(processors=processors, sandbox_profiles=PROFILES), database)


def test_bad_profiles_refused_at_build(database: Database) -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        build_registry(Settings(sandbox_profiles='{"sandbox": {"colour": 1}}'), database)


def test_new_processor_kinds_plug_in(database: Database) -> None:
    built: list[str] = []

    def fake_kind(settings: Settings, db: Database) -> Mapping[str, ConnectorBuilder]:
        def build() -> Connector:
            built.append("other")
            return SandboxConnector(SandboxProfile("other"), db)

        def never() -> Connector:
            raise AssertionError("a disabled processor is never built")

        return {"other": build, "disabled": never}

    kinds = {**CONNECTOR_KINDS, "fake": fake_kind}
    registry = build_registry(Settings(processors="other,sandbox"), database, kinds)
    assert registry.names == ["other", "sandbox"]
    assert built == ["other"]


def test_a_name_offered_by_two_kinds_is_refused(database: Database) -> None:
    def clash(settings: Settings, db: Database) -> Mapping[str, ConnectorBuilder]:
        return {"sandbox": lambda: SandboxConnector(SandboxProfile("sandbox"), db)}

    with pytest.raises(ValueError, match="offered by both"):
        build_registry(Settings(), database, {**CONNECTOR_KINDS, "clash": clash})


def test_empty_registry_refused() -> None:
    with pytest.raises(ValueError, match="At least one processor"):
        ConnectorRegistry([])
