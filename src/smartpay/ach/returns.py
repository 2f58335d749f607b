"""Ingesting return and notification-of-change files (read with the NACHA reader).

A return (addenda 99) names the original entry's trace number: the transfer is
``returned`` with its reason code, its ledger entries reversed, an event written, and
for authorization and account problems its mandate ended. A notification of change
(SEC code COR, addenda 98) corrects the stored bank account: the account number goes
to the vault again, the routing number and account type are updated.

A file is applied once (by name); each file in one transaction, so a crash applies all
of it or none.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smartpay.ach import repository, service
from smartpay.ach.bank_accounts import check_account_number, check_routing_number
from smartpay.ach.models import AccountType, TransferStatus
from smartpay.ach.nacha import Addenda98, Addenda99, EntryDetail, check_ach
from smartpay.ach.odfi import Odfi, odfis
from smartpay.config import Settings
from smartpay.errors import InvalidRequest
from smartpay.events.service import EventBatch
from smartpay.kit.db import Database, Session
from smartpay.vault.service import Vault

logger = logging.getLogger("smartpay.ach")

# NACHA Operating Rules, Appendix Four: the common return reasons, in SmartPay's words.
RETURN_REASONS = {
    "R01": "Insufficient funds",
    "R02": "Account closed",
    "R03": "No account / unable to locate account",
    "R04": "Invalid account number",
    "R05": "Unauthorized debit to consumer account using corporate SEC code",
    "R06": "Returned per ODFI's request",
    "R07": "Authorization revoked by customer",
    "R08": "Payment stopped",
    "R09": "Uncollected funds",
    "R10": "Customer advises not authorized",
    "R11": "Customer advises entry not in accordance with the terms of the authorization",
    "R12": "Branch sold to another DFI",
    "R13": "Invalid ACH routing number",
    "R14": "Representative payee deceased",
    "R15": "Beneficiary or account holder deceased",
    "R16": "Account frozen",
    "R17": "File record edit criteria",
    "R20": "Non-transaction account",
    "R23": "Credit entry refused by receiver",
    "R24": "Duplicate entry",
    "R29": "Corporate customer advises not authorized",
    "R51": "Item related to RCK entry is ineligible",
}
# NACHA Appendix Five: what each change code corrects.
NOC_FIELDS = {
    "C01": "account number",
    "C02": "routing number",
    "C03": "routing number and account number",
    "C05": "transaction code",
    "C06": "account number and transaction code",
    "C07": "routing number, account number and transaction code",
}
SAVINGS_TRANSACTION_CODES = frozenset({31, 32, 33, 34, 36, 37, 38, 39})


@dataclass(slots=True)
class IngestReport:
    name: str
    returns: int = 0
    notifications: int = 0
    unmatched: int = 0
    duplicate: bool = False
    errors: list[str] = field(default_factory=list)


def _corrections(code: str, data: str) -> dict[str, str]:
    """The corrected fields of a NOC's corrected data (NACHA Appendix Five layouts)."""
    if code == "C01":
        return {"account_number": data[:17].strip()}
    if code == "C02":
        return {"routing_number": data[:9].strip()}
    if code == "C03":
        return {"routing_number": data[:9].strip(), "account_number": data[12:29].strip()}
    if code == "C05":
        return {"transaction_code": data[:2].strip()}
    if code == "C06":
        return {"account_number": data[:17].strip(), "transaction_code": data[20:22].strip()}
    if code == "C07":
        return {
            "routing_number": data[:9].strip(),
            "account_number": data[9:26].strip(),
            "transaction_code": data[26:28].strip(),
        }
    return {}


async def _apply_return(
    session: Session, odfi: Odfi, entry: EntryDetail, item: Addenda99, now: int
) -> bool:
    transfer = await repository.transfer_by_trace(session, odfi.key, item.original_trace_number)
    if transfer is None or transfer.status not in (
        TransferStatus.SUBMITTED,
        TransferStatus.SETTLED,
    ):
        return False
    code = item.return_reason_code
    events = EventBatch(transfer.merchant_id)
    await service.transition(
        session,
        transfer,
        TransferStatus.RETURNED,
        events,
        return_code=code,
        failure_message=RETURN_REASONS.get(code, f"Returned ({code})"),
        returned_at=now,
    )
    await service.end_mandate_if_needed(session, transfer, code)
    await events.flush(session)
    return True


async def _apply_noc(session: Session, odfi: Odfi, vault: Vault, item: Addenda98, now: int) -> bool:
    transfer = await repository.transfer_by_trace(session, odfi.key, item.original_trace_number)
    if transfer is None:
        return False
    account = await repository.bank_account(session, transfer.payment_method_id)
    if account is None:
        return False
    fields = _corrections(item.change_code, item.corrected_data)
    if not fields:
        return False
    try:
        bank_changes: dict[str, Any] = {}
        method_changes: dict[str, Any] = {}
        routing = account.routing_number
        if "routing_number" in fields:
            routing = check_routing_number(fields["routing_number"], param="corrected_data")
            bank_changes["routing_number"] = routing
        if "account_number" in fields:
            number = check_account_number(fields["account_number"], param="corrected_data")
            method_changes["vault_token"] = await vault.store_bank_account(
                session, transfer.merchant_id, routing, number
            )
            method_changes["last4"] = number[-4:]
            method_changes["fingerprint"] = vault.bank_fingerprint(
                transfer.merchant_id, routing, number
            )
        if "transaction_code" in fields:
            code = int(fields["transaction_code"])
            bank_changes["account_type"] = (
                AccountType.SAVINGS if code in SAVINGS_TRANSACTION_CODES else AccountType.CHECKING
            ).value
    except (InvalidRequest, ValueError):
        return False
    # The stored history names what changed, never the account number itself.
    bank_changes["changes"] = [
        *account.changes,
        {
            "change_code": item.change_code,
            "corrected": NOC_FIELDS.get(item.change_code, item.change_code),
            "trace_number": item.original_trace_number,
            "at": now,
        },
    ]
    await repository.update_bank_account(session, transfer.payment_method_id, **bank_changes)
    if method_changes:
        await repository.update_payment_method(
            session, transfer.payment_method_id, **method_changes
        )
    events = EventBatch(transfer.merchant_id)
    events.add(
        "payment_method.updated",
        {
            "id": transfer.payment_method_id,
            "object": "payment_method",
            "type": "us_bank_account",
            "notification_of_change": {
                "change_code": item.change_code,
                "corrected": NOC_FIELDS.get(item.change_code, item.change_code),
            },
        },
    )
    await events.flush(session)
    return True


async def ingest(
    database: Database,
    settings: Settings,
    vault: Vault,
    name: str,
    data: bytes,
    *,
    now: int,
    odfi_key: str | None = None,
) -> IngestReport:
    """Applies one return/NOC file received from an ODFI (default: the first one)."""
    report = IngestReport(name=name)
    available = odfis(settings)
    odfi = available[odfi_key] if odfi_key else next(iter(available.values()))
    result = check_ach(data)
    if result.errors:
        report.errors = [str(error) for error in result.errors[:20]]
        logger.error("ACH return file %s is invalid: %s", name, "; ".join(report.errors[:5]))
        return report
    async with database.transaction() as session:
        claimed = await repository.claim_return_file(
            session,
            name=name,
            sha256=hashlib.sha256(data).hexdigest(),
            returns=0,
            notifications=0,
            unmatched=0,
            ingested_at=now,
        )
        if not claimed:
            report.duplicate = True
            return report
        for batch in result.file.batches:
            for entry in batch.entries:
                if not isinstance(entry, EntryDetail):
                    continue
                for item in entry.addenda:
                    if isinstance(item, Addenda99):
                        applied = await _apply_return(session, odfi, entry, item, now)
                        report.returns += applied
                    elif isinstance(item, Addenda98):
                        applied = await _apply_noc(session, odfi, vault, item, now)
                        report.notifications += applied
                    else:
                        continue
                    report.unmatched += not applied
        await repository.set_return_file_counts(
            session,
            name,
            returns=report.returns,
            notifications=report.notifications,
            unmatched=report.unmatched,
        )
    return report


def inbox_dir(settings: Settings) -> Path:
    return settings.ach_dir / "inbox"


async def ingest_inbox(
    database: Database, settings: Settings, vault: Vault, *, now: int
) -> list[IngestReport]:
    """Every file waiting in the inbox, applied and moved to ``inbox/processed`` (or to
    ``inbox/rejected`` when the NACHA validator refuses it)."""
    directory = inbox_dir(settings)
    if not directory.is_dir():
        return []
    reports: list[IngestReport] = []
    processed = directory / "processed"
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        report = await ingest(database, settings, vault, path.name, path.read_bytes(), now=now)
        reports.append(report)
        # Refused files go aside (with the reason logged), so they are not read again.
        target = processed if not report.errors else directory / "rejected"
        target.mkdir(exist_ok=True)
        path.replace(target / path.name)
    return reports
