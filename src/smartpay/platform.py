"""Builds the long-lived parts of SmartPay from Settings: database, vault, CVC store,
processors and payment flows. ``create_app``, the worker and the CLI all build through
here, so there is one wiring."""

from __future__ import annotations

import os
from dataclasses import dataclass

from smartpay.config import Settings
from smartpay.connectors.registry import ConnectorRegistry, build_registry
from smartpay.decisions.service import DecisionService
from smartpay.kit.db import Database
from smartpay.payments.flows import PaymentFlows
from smartpay.risk.service import RiskService, build_risk_service
from smartpay.routing.service import RoutingService
from smartpay.vault.cvc import CvcStore, MemoryCvcStore, RedisCvcStore
from smartpay.vault.keys import LocalKeyring
from smartpay.vault.service import Vault


@dataclass(slots=True)
class Platform:
    settings: Settings
    database: Database
    keyring: LocalKeyring
    vault: Vault
    cvc_store: CvcStore
    connectors: ConnectorRegistry
    payment_flows: PaymentFlows
    routing: RoutingService
    risk: RiskService | None = None
    decisions: DecisionService | None = None

    async def close(self) -> None:
        await self.routing.close()
        if self.decisions is not None:
            await self.decisions.close()
        if self.risk is not None:
            await self.risk.close()
        close = getattr(self.cvc_store, "close", None)
        if close is not None:
            await close()
        await self.database.dispose()


def ensure_data_dir(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)


def build_platform(settings: Settings) -> Platform:
    ensure_data_dir(settings)
    database = Database(settings.resolved_database_url)
    keyring = LocalKeyring(settings.resolved_keyring_path)
    vault = Vault(keyring)
    cvc_store: CvcStore = (
        RedisCvcStore(settings.redis_url, keyring) if settings.redis_url else MemoryCvcStore()
    )
    connectors = build_registry(settings, database)
    routing = RoutingService(settings, database, connectors.names, connectors.estimate_fee)
    risk = build_risk_service(settings)
    # Voters' models load on the first decision, so the API starts without waiting.
    decisions = DecisionService(settings, database)
    flows = PaymentFlows(
        database=database,
        settings=settings,
        vault=vault,
        cvc_store=cvc_store,
        connectors=connectors,
        routing=routing,
        risk=risk,
        decisions=decisions if risk is not None and settings.decisions_in_payment_path else None,
    )
    return Platform(
        settings, database, keyring, vault, cvc_store, connectors, flows, routing, risk, decisions
    )
