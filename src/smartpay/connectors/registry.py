"""The processors SmartPay may call, built from configuration.

``Settings.processors`` lists the enabled processor names in order of preference; the
first is the default. Each name is offered by one processor *kind*. Today the only kind
is the sandbox (one name per profile in ``SMARTPAY_SANDBOX_PROFILES``).

Adding a processor kind (Stripe, PayPal…) is one entry in ``CONNECTOR_KINDS``: a
function that, given the settings and the database, returns the names it offers, each
with a zero-argument builder. Builders run only for enabled names, so a kind that needs
credentials fails only when it is actually switched on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Final

from smartpay.config import Settings
from smartpay.connectors.base import Connector, WebhookVerifier
from smartpay.connectors.sandbox import SandboxConnector, parse_profiles
from smartpay.connectors.sandbox.webhooks import profile_secret
from smartpay.inbound import flows as inbound_flows
from smartpay.kit.db import Database

ConnectorBuilder = Callable[[], Connector]
# A processor kind: the connector names it offers under these settings, each with its builder.
ConnectorKind = Callable[[Settings, Database], Mapping[str, ConnectorBuilder]]


def _sandbox_kind(settings: Settings, database: Database) -> Mapping[str, ConnectorBuilder]:
    async def deliver(sender: WebhookVerifier, body: bytes, headers: dict[str, str]) -> None:
        # The sandbox lives in this process: its webhooks skip the network and enter where
        # POST /webhooks/<profile> does, signature check included.
        await inbound_flows.receive(database, sender, body, headers)

    def builder(profile_index: int) -> ConnectorBuilder:
        profile = profiles[profile_index]
        secret = profile_secret(settings.sandbox_webhook_secret, profile.name)
        return lambda: SandboxConnector(
            profile, database, webhook_secret=secret, webhook_sink=deliver
        )

    profiles = parse_profiles(settings)
    return {profile.name: builder(index) for index, profile in enumerate(profiles)}


# Every processor kind SmartPay knows, by kind name. Extension point for new processors.
CONNECTOR_KINDS: Final[Mapping[str, ConnectorKind]] = {
    "sandbox": _sandbox_kind,
}


class ConnectorRegistry:
    """The enabled connectors, by name, in order of preference."""

    def __init__(self, connectors: Iterable[Connector]) -> None:
        self._connectors: dict[str, Connector] = {}
        for connector in connectors:
            if connector.name in self._connectors:
                raise ValueError(f"Processor {connector.name!r} is configured twice.")
            self._connectors[connector.name] = connector
        if not self._connectors:
            raise ValueError("At least one processor must be enabled (SMARTPAY_PROCESSORS).")

    @property
    def names(self) -> list[str]:
        """Enabled processor names, in order of preference (a fresh list each time)."""
        return list(self._connectors)

    @property
    def default(self) -> Connector:
        """The first configured processor."""
        return next(iter(self._connectors.values()))

    def get(self, name: str) -> Connector:
        try:
            return self._connectors[name]
        except KeyError:
            raise KeyError(
                f"Unknown processor {name!r}; enabled processors: {', '.join(self.names)}."
            ) from None

    def estimate_fee(self, name: str, amount: int, currency: str) -> int:
        """What processor ``name`` would charge on ``amount`` (0 when it cannot say)."""
        estimate = getattr(self._connectors.get(name), "estimate_fee", None)
        return int(estimate(amount, currency)) if estimate is not None else 0

    def __contains__(self, name: object) -> bool:
        return name in self._connectors

    def __len__(self) -> int:
        return len(self._connectors)


def _split_names(processors: str) -> list[str]:
    return [name.strip() for name in processors.split(",") if name.strip()]


def build_registry(
    settings: Settings,
    database: Database,
    kinds: Mapping[str, ConnectorKind] = CONNECTOR_KINDS,
) -> ConnectorRegistry:
    """Build the connectors named by ``Settings.processors``. A name no kind offers, or one
    offered by two kinds, raises ``ValueError`` listing what is available."""
    offered: dict[str, tuple[str, ConnectorBuilder]] = {}
    for kind_name, kind in kinds.items():
        for name, build in kind(settings, database).items():
            if name in offered:
                raise ValueError(
                    f"Processor name {name!r} is offered by both {offered[name][0]!r} and "
                    f"{kind_name!r} processors; rename one."
                )
            offered[name] = (kind_name, build)
    names = _split_names(settings.processors)
    if not names:
        raise ValueError("SMARTPAY_PROCESSORS is empty: enable at least one processor.")
    unknown = [name for name in names if name not in offered]
    if unknown:
        raise ValueError(
            f"SMARTPAY_PROCESSORS names unknown processors {', '.join(map(repr, unknown))}; "
            f"available: {', '.join(offered)}. Sandbox profiles are defined by "
            "SMARTPAY_SANDBOX_PROFILES."
        )
    return ConnectorRegistry(offered[name][1]() for name in names)
