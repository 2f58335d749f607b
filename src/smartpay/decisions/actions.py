"""Actions: what a decision's outcome does, from a registry keyed by name.

Each kind's outcome names its actions (``ACTION_PLAN``). Every action runs at most once
per (merchant, subject, action): its row in ``decision_actions`` is claimed with an
insert-if-absent before it runs, in the same transaction, so re-running a decision — or
taking a new decision on the same subject — never acts twice.

``continue`` and ``cancel`` are instructions to the caller (the payment flow continues,
captures or cancels the payment it is in the middle of); they are recorded like the
others so the caller can see what was decided. ``hold_for_review`` opens a case in the
risk reviews queue, ``release_escrow``/``freeze_escrow`` act on the escrow, ``notify``
writes a ``decision.<outcome>`` event (and so its webhook).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from smartpay.config import Settings
from smartpay.decisions import repository
from smartpay.decisions.kinds import DecisionKind, Level
from smartpay.decisions.models import ActionStatus
from smartpay.events.service import EventBatch
from smartpay.kit.clock import now
from smartpay.kit.db import Session
from smartpay.kit.ids import new_id


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What an action handler gets: the decision just recorded (its rendered object)."""

    merchant_id: str
    subject_id: str
    decision: Mapping[str, Any]
    settings: Settings


@dataclass(frozen=True, slots=True)
class ActionResult:
    status: ActionStatus
    detail: dict[str, Any]


ActionHandler = Callable[[Session, ActionContext], Awaitable[ActionResult]]

# What each kind's outcome does. Every unfavourable or review outcome also notifies.
ACTION_PLAN: dict[DecisionKind, dict[Level, tuple[str, ...]]] = {
    DecisionKind.PAYMENT_RISK: {
        Level.FAVOURABLE: ("continue",),
        Level.REVIEW: ("hold_for_review", "notify"),
        Level.UNFAVOURABLE: ("cancel", "notify"),
    },
    DecisionKind.REFUND_REQUEST: {
        Level.FAVOURABLE: ("continue",),
        Level.REVIEW: ("hold_for_review", "notify"),
        Level.UNFAVOURABLE: ("cancel", "notify"),
    },
    DecisionKind.ESCROW_RELEASE: {
        Level.FAVOURABLE: ("release_escrow", "notify"),
        Level.REVIEW: ("hold_for_review", "notify"),
        Level.UNFAVOURABLE: ("freeze_escrow", "notify"),
    },
    DecisionKind.DISPUTE_RESPONSE: {
        Level.FAVOURABLE: ("notify",),
        Level.REVIEW: ("hold_for_review", "notify"),
        Level.UNFAVOURABLE: ("notify",),
    },
    DecisionKind.PAYOUT_APPROVAL: {
        Level.FAVOURABLE: ("continue",),
        Level.REVIEW: ("hold_for_review", "notify"),
        Level.UNFAVOURABLE: ("cancel", "notify"),
    },
}


async def _instruction(_session: Session, ctx: ActionContext) -> ActionResult:
    # The caller applies it (it holds the payment or refund being decided).
    return ActionResult(ActionStatus.DONE, {"instruction": "caller"})


async def _hold_for_review(session: Session, ctx: ActionContext) -> ActionResult:
    from smartpay.risk.reviews import open_review

    context = ctx.decision.get("context") or {}
    payment_intent = context.get("payment_intent") if isinstance(context, Mapping) else None
    if not payment_intent and str(ctx.subject_id).startswith("pi_"):
        payment_intent = ctx.subject_id
    if not payment_intent:
        return ActionResult(ActionStatus.SKIPPED, {"reason": "no payment intent to review"})
    reasons = [str(ctx.decision["explanation"])] + [
        f"{vote['voter']}: {vote['decision'] or vote['status']}"
        for vote in ctx.decision.get("votes", [])
    ]
    review_id = await open_review(
        session,
        merchant_id=ctx.merchant_id,
        payment_intent_id=str(payment_intent),
        reasons=reasons,
        source="consensus",
    )
    return ActionResult(ActionStatus.DONE, {"review": review_id})


async def _escrow(session: Session, ctx: ActionContext, *, release: bool) -> ActionResult:
    from smartpay.escrow import repository as escrow_repository
    from smartpay.escrow import service as escrow

    row = await escrow_repository.get(session, ctx.merchant_id, ctx.subject_id, for_update=True)
    if row is None:
        return ActionResult(ActionStatus.SKIPPED, {"reason": "no such escrow"})
    if release:
        updated = await escrow.release(session, row, None, ctx.settings)
    else:
        reason = f"frozen by decision {ctx.decision['id']}"
        updated = await escrow.dispute(session, row, reason, now())
    return ActionResult(ActionStatus.DONE, {"escrow": updated.id, "status": updated.status})


async def _release_escrow(session: Session, ctx: ActionContext) -> ActionResult:
    return await _escrow(session, ctx, release=True)


async def _freeze_escrow(session: Session, ctx: ActionContext) -> ActionResult:
    return await _escrow(session, ctx, release=False)


async def _notify(session: Session, ctx: ActionContext) -> ActionResult:
    events = EventBatch(ctx.merchant_id)
    body = {key: value for key, value in ctx.decision.items() if key != "actions"}
    events.add(f"decision.{ctx.decision['outcome']}", body)
    event_id = events.rows[0]["id"]
    await events.flush(session)
    return ActionResult(ActionStatus.DONE, {"event": event_id})


class ActionRegistry:
    """Action name → handler. The payment path may register its own ``continue`` or
    ``cancel`` (e.g. one that captures) with ``register``."""

    def __init__(self) -> None:
        self.handlers: dict[str, ActionHandler] = {
            "continue": _instruction,
            "cancel": _instruction,
            "hold_for_review": _hold_for_review,
            "release_escrow": _release_escrow,
            "freeze_escrow": _freeze_escrow,
            "notify": _notify,
        }

    def register(self, name: str, handler: ActionHandler) -> None:
        self.handlers[name] = handler

    async def run(
        self, session: Session, names: tuple[str, ...], ctx: ActionContext
    ) -> list[dict[str, Any]]:
        """Run each action not yet run for this subject; the ones already run are
        reported as they were then (``replayed``)."""
        results = []
        for name in names:
            action_id = new_id("dact")
            claimed = await repository.claim_action(
                session,
                id=action_id,
                decision_id=ctx.decision["id"],
                merchant_id=ctx.merchant_id,
                subject_id=ctx.subject_id,
                action=name,
                created=now(),
            )
            if not claimed:
                previous = await repository.action_for(
                    session, ctx.merchant_id, ctx.subject_id, name
                )
                results.append({**render_action(previous), "replayed": True})
                continue
            result = await self.handlers[name](session, ctx)
            await repository.finish_action(session, action_id, result.status.value, result.detail)
            results.append(
                {
                    "id": action_id,
                    "action": name,
                    "decision": ctx.decision["id"],
                    "status": result.status.value,
                    "result": result.detail,
                    "replayed": False,
                }
            )
        return results


def render_action(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "action": row.action,
        "decision": row.decision_id,
        "status": row.status,
        "result": row.result,
    }
