"""Decision kinds and their label sets.

Every kind has three labels on one scale: the favourable one (the payment, refund or
release goes ahead), review (a human decides), and the unfavourable one. Strategies work
on that scale, so one strategy serves every kind; votes and outcomes keep the kind's own
words (``approve``/``decline``, ``release``/``freeze``...).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DecisionKind(StrEnum):
    PAYMENT_RISK = "payment_risk"  # a grey-zone payment: approve, review or decline it
    REFUND_REQUEST = "refund_request"  # a refund someone asked for: approve, review, deny
    ESCROW_RELEASE = "escrow_release"  # funds in escrow: release, review or freeze them
    DISPUTE_RESPONSE = "dispute_response"  # a dispute: accept it, review, or contest it
    PAYOUT_APPROVAL = "payout_approval"  # a payout: approve, review or hold it


class Level(StrEnum):
    """Where a label sits on the shared scale."""

    FAVOURABLE = "favourable"
    REVIEW = "review"
    UNFAVOURABLE = "unfavourable"


# The risk a label stands for when a voter gives only a label (an LLM's decision):
# the middle of each band of the default thresholds.
LEVEL_RISK = {Level.FAVOURABLE: 0.0, Level.REVIEW: 0.5, Level.UNFAVOURABLE: 1.0}


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: DecisionKind
    favourable: str
    review: str
    unfavourable: str
    # One line for the LLM prompt: what the decision is about.
    question: str

    @property
    def labels(self) -> tuple[str, str, str]:
        return (self.favourable, self.review, self.unfavourable)

    def label(self, level: Level) -> str:
        if level is Level.FAVOURABLE:
            return self.favourable
        if level is Level.REVIEW:
            return self.review
        return self.unfavourable

    def level(self, label: str) -> Level:
        if label == self.favourable:
            return Level.FAVOURABLE
        if label == self.review:
            return Level.REVIEW
        if label == self.unfavourable:
            return Level.UNFAVOURABLE
        raise ValueError(f"{label!r} is not a {self.kind.value} label")


KIND_SPECS: dict[DecisionKind, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            DecisionKind.PAYMENT_RISK,
            "approve",
            "review",
            "decline",
            "Should this card payment be approved, sent to human review, or declined as "
            "likely fraud?",
        ),
        KindSpec(
            DecisionKind.REFUND_REQUEST,
            "approve",
            "review",
            "deny",
            "Should this refund request be approved, sent to human review, or denied?",
        ),
        KindSpec(
            DecisionKind.ESCROW_RELEASE,
            "release",
            "review",
            "freeze",
            "Should the funds held in escrow be released, sent to human review, or frozen?",
        ),
        KindSpec(
            DecisionKind.DISPUTE_RESPONSE,
            "accept",
            "review",
            "contest",
            "Should the merchant accept this dispute, send it to human review, or contest it?",
        ),
        KindSpec(
            DecisionKind.PAYOUT_APPROVAL,
            "approve",
            "review",
            "hold",
            "Should this payout be approved, sent to human review, or held?",
        ),
    )
}


def spec_for(kind: DecisionKind | str) -> KindSpec:
    return KIND_SPECS[DecisionKind(kind)]
