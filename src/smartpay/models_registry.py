"""Imports every domain's tables so ``kit.db.metadata`` knows them all (for Alembic and
tests). Add a domain's models module here when you create one."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "smartpay.kit.idempotency",
    "smartpay.merchants.models",
    "smartpay.vault.models",
    "smartpay.cards.models",
    "smartpay.customers.models",
    "smartpay.payments.models",
    "smartpay.connectors.sandbox.models",
    "smartpay.ledger.models",
    "smartpay.events.models",
    "smartpay.inbound.models",
    "smartpay.webhooks.models",
    "smartpay.routing.models",
    "smartpay.risk.models",
    "smartpay.chat.models",
    "smartpay.ach.models",
    "smartpay.escrow.models",
    "smartpay.decisions.models",
    "smartpay.dashboard.models",
    "smartpay.ops.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only tolerate a domain that does not exist yet, never a broken import inside one.
            if exc.name != name:
                raise
