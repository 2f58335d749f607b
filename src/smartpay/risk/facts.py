"""The names a risk rule can test: payment attributes, the model's features and the
live features only the payment path knows (IPs, e-mails, devices, countries).

A rule reads one flat mapping of these names (``facts``). Keeping the catalogue in one
module lets rules be validated when a merchant writes them, not when a payment runs.
"""

from __future__ import annotations

from smartpay.risk.features import FEATURE_NAMES

# Entities whose velocity is counted live, and the windows they are counted over.
VELOCITY_ENTITIES = ("card", "customer", "email", "ip", "device")
VELOCITY_WINDOWS = ("1h", "24h", "7d", "30d")
VELOCITY_WINDOW_SECONDS = {"1h": 3_600.0, "24h": 86_400.0, "7d": 604_800.0, "30d": 2_592_000.0}

# Payment attributes that are text: compared with eq/in/prefix operators.
TEXT_ATTRIBUTES = (
    "currency",
    "card_country",
    "ip_country",
    "billing_country",
    "bin",
    "email_domain",
    "card_brand",
    "card_funding",
)
# Payment attributes that are numbers. `amount` is in the payment's minor units, so a
# rule on it must also fix the currency (see rules.RiskRule).
NUMERIC_ATTRIBUTES = ("amount", "score")

LIVE_FEATURE_NAMES: tuple[str, ...] = (
    *(
        f"velocity_{entity}_{measure}_{window}"
        for entity in VELOCITY_ENTITIES
        for measure in ("count", "amount")
        for window in VELOCITY_WINDOWS
    ),
    "card_first_seen_days",
    "customer_first_seen_days",
    "cards_per_customer",
    "customers_per_card",
    "customer_history_mean_amount",
    "customer_history_amount_zscore",
    "ip_card_country_mismatch",
    "ip_billing_country_mismatch",
    "card_billing_country_mismatch",
)

NUMERIC_FACTS: frozenset[str] = frozenset(
    (*NUMERIC_ATTRIBUTES, *FEATURE_NAMES, *LIVE_FEATURE_NAMES)
)
TEXT_FACTS: frozenset[str] = frozenset(TEXT_ATTRIBUTES)
KNOWN_FACTS: frozenset[str] = NUMERIC_FACTS | TEXT_FACTS
