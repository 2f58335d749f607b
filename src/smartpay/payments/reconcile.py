"""Reconciliation: SmartPay's attempts against each processor's own records.

Every processor record must match an attempt with the same idempotency key, outcome and
amount; every attempt that SmartPay believes moved money must exist at the processor.
Attempts still open (pending/unknown) are listed as unresolved: the janitor settles them.
"""

from __future__ import annotations

from dataclasses import dataclass

from smartpay.connectors.base import ProcessorRecord, RecordKind, RecordStatus
from smartpay.connectors.registry import ConnectorRegistry
from smartpay.kit.db import Database
from smartpay.payments import repository
from smartpay.payments.models import OPEN_ATTEMPT, AttemptStatus

_OPERATION_OF_KIND = {
    RecordKind.AUTHORIZATION: "authorize",
    RecordKind.CAPTURE: "capture",
    RecordKind.VOID: "void",
    RecordKind.REFUND: "refund",
}
# What each processor record status means for the matching attempt's status.
_EXPECTED_ATTEMPT_STATUS = {
    RecordStatus.APPROVED: {AttemptStatus.SUCCEEDED.value},
    RecordStatus.SUCCEEDED: {AttemptStatus.SUCCEEDED.value},
    RecordStatus.DECLINED: {AttemptStatus.DECLINED.value},
    RecordStatus.FAILED: {AttemptStatus.DECLINED.value, AttemptStatus.FAILED.value},
    RecordStatus.PENDING_ACTION: {AttemptStatus.REQUIRES_ACTION.value},
}
_MOVED_MONEY = {AttemptStatus.SUCCEEDED.value, AttemptStatus.REQUIRES_ACTION.value}


@dataclass(frozen=True, slots=True)
class Mismatch:
    processor: str
    idempotency_key: str
    problem: str


async def reconcile(database: Database, connectors: ConnectorRegistry) -> list[Mismatch]:
    mismatches: list[Mismatch] = []
    for name in connectors.names:
        records = await connectors.get(name).records()
        async with database.transaction() as session:
            attempts = await repository.all_attempts(session, name)
        mismatches.extend(compare(name, attempts, records))
    return mismatches


def compare(processor: str, attempts: list, records: list[ProcessorRecord]) -> list[Mismatch]:  # type: ignore[type-arg]
    by_key = {
        attempt.idempotency_key: attempt for attempt in attempts if attempt.operation != "void"
    }
    seen: set[str] = set()
    out: list[Mismatch] = []
    for record in records:
        if record.kind is RecordKind.VOID:
            continue  # voids carry no money; the hold release is checked by the ledger
        attempt = by_key.get(record.idempotency_key)
        if attempt is None:
            out.append(
                Mismatch(
                    processor,
                    record.idempotency_key,
                    f"processor has a {record.kind.value} ({record.status.value}, "
                    f"{record.amount} {record.currency}) SmartPay never recorded",
                )
            )
            continue
        seen.add(record.idempotency_key)
        if attempt.status in OPEN_ATTEMPT:
            out.append(
                Mismatch(
                    processor,
                    record.idempotency_key,
                    f"attempt {attempt.id} is still {attempt.status}; the processor "
                    f"says {record.status.value}",
                )
            )
            continue
        if _OPERATION_OF_KIND[record.kind] != attempt.operation:
            out.append(
                Mismatch(
                    processor,
                    record.idempotency_key,
                    f"operation differs: {attempt.operation} vs {record.kind.value}",
                )
            )
        if attempt.status not in _EXPECTED_ATTEMPT_STATUS[record.status]:
            out.append(
                Mismatch(
                    processor,
                    record.idempotency_key,
                    f"outcome differs: SmartPay {attempt.status}, processor {record.status.value}",
                )
            )
        if record.amount != attempt.amount or record.currency != attempt.currency:
            out.append(
                Mismatch(
                    processor,
                    record.idempotency_key,
                    f"amount differs: SmartPay {attempt.amount} {attempt.currency}, "
                    f"processor {record.amount} {record.currency}",
                )
            )
    for key, attempt in by_key.items():
        if key in seen:
            continue
        if attempt.status in OPEN_ATTEMPT:
            # The processor may never have seen it (the request died before the call):
            # unresolved until the janitor fails it, which clears it from this report.
            out.append(
                Mismatch(
                    processor,
                    key,
                    f"attempt {attempt.id} is still {attempt.status}; the processor "
                    "has no record of it yet",
                )
            )
        elif attempt.status in _MOVED_MONEY:
            out.append(
                Mismatch(
                    processor,
                    key,
                    f"SmartPay has {attempt.operation} {attempt.id} as "
                    f"{attempt.status} but the processor has no record",
                )
            )
    return out
