"""Reconciliation's comparison of attempts against processor records."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from smartpay.connectors.base import ProcessorRecord, RecordKind, RecordStatus
from smartpay.payments.reconcile import compare


def _attempt(status: str, key: str = "att_1") -> SimpleNamespace:
    return SimpleNamespace(
        id=key,
        idempotency_key=key,
        operation="authorize",
        status=status,
        amount=1000,
        currency="usd",
    )


def _record(status: RecordStatus, key: str = "att_1") -> ProcessorRecord:
    return ProcessorRecord(RecordKind.AUTHORIZATION, key, "ref_1", status, 1000, "usd")


@pytest.mark.parametrize("status", ["pending", "unknown"])
def test_an_open_attempt_the_processor_never_saw_is_unresolved(status: str) -> None:
    # The request died before calling the processor: until the janitor fails the attempt,
    # its intent is still processing, so the books are not reconciled yet.
    [mismatch] = compare("sandbox", [_attempt(status)], [])
    assert mismatch.idempotency_key == "att_1"
    assert f"still {status}" in mismatch.problem and "no record" in mismatch.problem


@pytest.mark.parametrize("status", ["failed", "declined"])
def test_a_closed_attempt_that_moved_no_money_needs_no_record(status: str) -> None:
    assert compare("sandbox", [_attempt(status)], []) == []


def test_an_open_attempt_the_processor_answered_is_unresolved() -> None:
    [mismatch] = compare("sandbox", [_attempt("pending")], [_record(RecordStatus.APPROVED)])
    assert "still pending" in mismatch.problem and "approved" in mismatch.problem


def test_a_settled_attempt_matching_its_record_is_clean() -> None:
    assert compare("sandbox", [_attempt("succeeded")], [_record(RecordStatus.APPROVED)]) == []


def test_a_succeeded_attempt_without_a_record_is_reported() -> None:
    [mismatch] = compare("sandbox", [_attempt("succeeded")], [])
    assert "no record" in mismatch.problem
