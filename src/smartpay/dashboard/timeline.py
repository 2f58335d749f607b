"""A payment's timeline: everything that happened to one PaymentIntent, oldest first.

Read from each domain's own repository, one query per kind of record (never one per
row): the processor attempts with the routing reason each recorded, the intent's
routing decision and risk assessment, the ledger entries (with their lines) of its
charges and refunds, the events about the intent, its charges and refunds, and the
webhook deliveries of those events. Every query is scoped to the merchant, so another
merchant's records never appear even if an id were shared.

What an item shows is text made here (amounts, codes, reasons), never an event's or a
processor's payload: those may carry more than the page should, and card data must not
reach a page beyond the brand and last four the charges table shows already.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from smartpay.events import repository as events_repository
from smartpay.kit.db import Session
from smartpay.kit.ids import id_time
from smartpay.kit.money import format_amount
from smartpay.ledger import repository as ledger_repository
from smartpay.payments import repository as payments_repository
from smartpay.webhooks import repository as webhooks_repository


class Kind(IntEnum):
    """What an item is; the value breaks ties between items of the same instant, in the
    order a confirmation does its work (risk is scored, then routing chooses, then the
    processor is called, then the books and the outbox are written)."""

    RISK = 0
    ROUTING = 1
    ATTEMPT = 2
    LEDGER = 3
    EVENT = 4
    WEBHOOK = 5

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class LedgerLine:
    account: str
    debit_text: str
    credit_text: str


@dataclass(frozen=True, slots=True)
class Item:
    at: float  # unix seconds
    kind: Kind
    title: str
    subject: str  # the record's id (att_…, txn_…, evt_…, whd_…) or the intent's
    facts: list[tuple[str, str]] = field(default_factory=list)
    lines: list[LedgerLine] = field(default_factory=list)  # ledger entries only

    @property
    def when_text(self) -> str:
        return when_text(self.at)


def when_text(at: float) -> str:
    """To the millisecond: a cascade's attempts are milliseconds apart."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _text(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)


def _breaker_text(breaker: Mapping[str, Any] | None) -> str:
    if not breaker:
        return "—"
    calls = breaker.get("window_calls", 0)
    rate = float(breaker.get("window_error_rate") or 0.0)
    return f"{breaker.get('state')} ({calls} calls in window, {rate:.0%} errors)"


def _score_text(score: Mapping[str, Any] | None) -> str:
    if not score:
        return "—"
    return (
        f"{score.get('score')} (approval sample {score.get('approval_sample')}, "
        f"mean {score.get('approval_mean')}, expected fee {score.get('expected_fee')}, "
        f"{score.get('latency_ms')} ms, evidence {score.get('evidence')}"
        f"{', explored' if score.get('explored') else ''})"
    )


def _routing_item(routing: Mapping[str, Any], at: float, intent_id: str) -> Item:
    facts = [
        ("Method", _text(routing.get("method"))),
        ("Rule", _text(routing.get("rule"))),
        ("Segment", _text(routing.get("segment"))),
        ("Ranked", " → ".join(routing.get("ranked") or []) or "—"),
    ]
    for score in routing.get("scores") or []:
        facts.append((f"Score {score.get('processor')}", _score_text(score)))
    for processor, breaker in (routing.get("breakers") or {}).items():
        facts.append((f"Breaker {processor}", _breaker_text(breaker)))
    for processor, why in (routing.get("skipped") or {}).items():
        facts.append((f"Skipped {processor}", _text(why)))
    return Item(at, Kind.ROUTING, "Routing decision", intent_id, facts)


def _attempt_item(row: Any) -> Item:
    amount = format_amount(row.amount, row.currency)
    facts = [
        ("Status", row.status),
        ("Amount", amount),
        ("Decline code", _text(row.decline_code)),
        ("Error code", _text(row.error_code)),
        ("Started", when_text(row.started_at)),
    ]
    if row.finished_at is not None:
        took = (row.finished_at - row.started_at) * 1000
        facts.append(("Finished", when_text(row.finished_at)))
        facts.append(("Took", f"{took:,.0f} ms"))
    reason = row.routing or {}
    if reason:
        facts.extend(
            [
                ("Routing position", _text(reason.get("position"))),
                ("Routing method", _text(reason.get("method"))),
                ("Routing rule", _text(reason.get("rule"))),
                ("Routing score", _score_text(reason.get("score"))),
                ("Breaker", _breaker_text(reason.get("breaker"))),
            ]
        )
    title = f"{row.operation.title()} at {row.processor}: {row.status}"
    return Item(row.started_at, Kind.ATTEMPT, title, row.id, facts)


def _ledger_item(row: Any, lines: Sequence[Any]) -> Item:
    def amount(value: int) -> str:
        return format_amount(value, row.currency) if value else ""

    facts = [("Reference", f"{row.reference_type} {row.reference_id}")]
    if row.settles_entry_id:
        facts.append(("Settles", row.settles_entry_id))
    # Times from the ids (microseconds), not ``created`` (whole seconds): they order a
    # ledger entry before the event written a few milliseconds later.
    return Item(
        id_time(row.id, float(row.created)),
        Kind.LEDGER,
        f"Ledger entry: {row.kind}",
        row.id,
        facts,
        [LedgerLine(line.code, amount(line.debit), amount(line.credit)) for line in lines],
    )


def _event_item(row: Any) -> Item:
    facts = [("About", row.object_id)]
    if row.request_id:
        facts.append(("Request", row.request_id))
    return Item(id_time(row.id, float(row.created)), Kind.EVENT, f"Event {row.type}", row.id, facts)


def _delivery_item(row: Any, event_type: str) -> Item:
    facts = [
        ("Event", f"{event_type} {row.event_id}"),
        ("Endpoint", f"{row.endpoint_url} ({row.endpoint_id})"),
        ("Status", row.status),
        ("Attempts", str(row.attempts)),
        ("Last response", _text(row.last_status_code)),
    ]
    if row.delivered_at is not None:
        facts.append(("Delivered", when_text(row.delivered_at)))
    return Item(
        id_time(row.id, float(row.created)),
        Kind.WEBHOOK,
        f"Webhook {event_type}: {row.status}",
        row.id,
        facts,
    )


async def load(
    session: Session, merchant_id: str, intent: Any, charge_ids: Sequence[str]
) -> list[Item]:
    """The intent's timeline, oldest first. ``intent`` is its row, already known to be
    this merchant's; ``charge_ids`` its charges."""
    attempts = await payments_repository.attempts_of_intent(session, merchant_id, intent.id)
    refunds = await payments_repository.refunds_of_intent(session, merchant_id, intent.id)
    refund_ids = [row.id for row in refunds]
    entries = await ledger_repository.entries_for_references(
        session, merchant_id, [*charge_ids, *refund_ids]
    )
    lines = await ledger_repository.lines_of_entries(session, [row.id for row in entries])
    events = await events_repository.about_objects(
        session, merchant_id, [intent.id, *charge_ids, *refund_ids]
    )
    deliveries = await webhooks_repository.deliveries_of_events(
        session, merchant_id, [row.id for row in events]
    )

    lines_by_entry: dict[str, list[Any]] = {}
    for line in lines:
        lines_by_entry.setdefault(line.entry_id, []).append(line)
    event_types = {row.id: row.type for row in events}

    items = [_attempt_item(row) for row in attempts]
    risk = intent.risk or {}
    if risk:
        items.append(
            Item(
                float(risk.get("scored_at") or intent.created),
                Kind.RISK,
                f"Risk assessment: {risk.get('decision')} (score {risk.get('score')})",
                intent.id,
            )
        )
    if intent.routing:
        # The decision itself has no timestamp: it was made just before the first
        # authorization it chose, so it sits there (the Kind order puts it first).
        authorizations = [row.started_at for row in attempts if row.operation == "authorize"]
        at = authorizations[0] if authorizations else float(intent.created)
        items.append(_routing_item(intent.routing, at, intent.id))
    items.extend(_ledger_item(row, lines_by_entry.get(row.id, [])) for row in entries)
    items.extend(_event_item(row) for row in events)
    items.extend(_delivery_item(row, event_types[row.event_id]) for row in deliveries)
    items.sort(key=lambda item: (item.at, item.kind, item.subject))
    return items
