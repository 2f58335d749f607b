"""Batch cycles: pending transfers grouped into NACHA batches and files.

A cycle is a flow of two recorded steps, never one transaction around file I/O:

1. one transaction: take every ``initiated`` transfer of the ODFI, group it by
   (SEC code, company, effective date) into batches of at most ``MAX_BATCH_ENTRIES``,
   give each entry its trace number and its share of the fee, record the batches and a
   ``pending`` file; the transfers become ``batched``. Commit.
2. for each ``pending`` file: build it from its rows (account numbers from the vault),
   validate it with the NACHA validator, write it to the outbox (atomic rename, mode
   0600), add it to the manifest; then one transaction marks the file ``written`` and
   its transfers ``submitted``.

A crash between the steps leaves a ``pending`` file that the next cycle writes: the
content is rebuilt from the rows, byte for byte the same.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import string
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from smartpay.ach import costs, repository
from smartpay.ach.models import (
    AccountType,
    Direction,
    FileStatus,
    SecCode,
    TransferStatus,
)
from smartpay.ach.nacha import (
    AchFile,
    Batch,
    BatchHeader,
    EntryDetail,
    FileHeader,
    fill_controls,
    validate_ach,
    write_ach,
)
from smartpay.ach.nacha.records import CREDITS_ONLY, DEBITS_ONLY, MIXED_DEBITS_AND_CREDITS
from smartpay.ach.odfi import MAX_BATCH_ENTRIES, Odfi, entry_fees, odfis
from smartpay.ach.service import transition
from smartpay.config import Settings
from smartpay.events.service import EventBatch
from smartpay.kit.db import Database
from smartpay.kit.ids import new_id
from smartpay.vault.service import Vault

logger = logging.getLogger("smartpay.ach")

# NACHA Appendix Three: trace numbers end in a 7-digit entry sequence number.
TRACE_SEQUENCE_MODULUS = 10**7
# NACHA file header field 8: the file id modifier tells apart files created the same
# day for the same destination: A-Z, then 0-9.
FILE_ID_MODIFIERS = string.ascii_uppercase + string.digits
# NACHA entry detail: transaction codes by account type and direction.
TRANSACTION_CODES = {
    (AccountType.CHECKING, Direction.CREDIT): 22,
    (AccountType.CHECKING, Direction.DEBIT): 27,
    (AccountType.SAVINGS, Direction.CREDIT): 32,
    (AccountType.SAVINGS, Direction.DEBIT): 37,
}
# WEB entries carry a payment type code in the discretionary data: S single, R recurring.
WEB_PAYMENT_TYPE = "S"
ORIGIN_NAME = "SMARTPAY"
ENTRY_DESCRIPTION = "SMARTPAY"
MANIFEST_NAME = "manifest.json"


@dataclass(slots=True)
class CycleReport:
    """What one cycle did, and what its fee model saved."""

    files: list[str] = field(default_factory=list)
    batches: int = 0
    entries: int = 0
    fees: int = 0  # what the configured model charges for this cycle, cents
    fees_if_per_entry: int = 0
    fees_if_per_batch: int = 0
    stripe_equivalent: int = 0  # Stripe's ACH price for the same entries
    invalid_files: list[str] = field(default_factory=list)

    @property
    def savings_vs_stripe(self) -> int:
        return self.stripe_equivalent - self.fees

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "savings_vs_stripe": self.savings_vs_stripe}


def company_identification(merchant_id: str) -> str:
    """The merchant's 10-character NACHA company id: "9" (a SmartPay-assigned number,
    not an EIN) and 9 digits derived from the merchant id."""
    digest = int(hashlib.sha256(merchant_id.encode()).hexdigest(), 16)
    return f"9{digest % 10**9:09d}"


def company_name(merchant_name: str) -> str:
    cleaned = "".join(ch for ch in merchant_name.upper() if ch.isascii() and ch.isprintable())
    return cleaned[:16] or "SMARTPAY MERCHANT"[:16]


async def form_batches(
    database: Database, settings: Settings, odfi: Odfi, *, now: int, as_of: int
) -> str | None:
    """Step 1 for one ODFI: returns the pending file's id, or None when nothing waits."""
    async with database.transaction() as session:
        state = await repository.odfi_state(session, odfi.key)
        await repository.update_odfi_state(session, odfi.key, last_cycle_at=now)
        pending = await repository.transfers_with_status(
            session, TransferStatus.INITIATED, odfi=odfi.key
        )
        if not pending:
            return None
        names = await repository.merchant_names(session, {t.merchant_id for t in pending})
        groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
        for row in pending:
            effective = odfi.effective_date(row.speed, row.amount, as_of).isoformat()
            groups[(row.sec_code, row.merchant_id, effective)].append(row)
        local = odfi.local(now)
        creation_date = local.strftime("%y%m%d")
        modifier_index = await repository.files_created_on(session, odfi.key, creation_date)
        modifier = FILE_ID_MODIFIERS[modifier_index % len(FILE_ID_MODIFIERS)]
        file_id = new_id("achf")
        sequence = int(state.next_sequence)
        batch_rows: list[dict[str, Any]] = []
        events: dict[str, EventBatch] = {}
        cost_rows: list[dict[str, Any]] = []
        total_debit = total_credit = file_fee = 0
        batch_number = 0
        for (sec, merchant_id, effective), rows in sorted(groups.items()):
            for start in range(0, len(rows), MAX_BATCH_ENTRIES):
                chunk = rows[start : start + MAX_BATCH_ENTRIES]
                batch_number += 1
                batch_id = new_id("achb")
                fees = entry_fees(settings, len(chunk))
                directions = {row.direction for row in chunk}
                service_class = (
                    MIXED_DEBITS_AND_CREDITS
                    if len(directions) > 1
                    else DEBITS_ONLY
                    if Direction.DEBIT in directions
                    else CREDITS_ONLY
                )
                batch_rows.append(
                    {
                        "id": batch_id,
                        "file_id": file_id,
                        "merchant_id": merchant_id,
                        "batch_number": batch_number,
                        "sec_code": sec,
                        "company_identification": company_identification(merchant_id),
                        "company_name": company_name(names.get(merchant_id, "")),
                        "effective_date": effective,
                        "service_class_code": service_class,
                        "entry_count": len(chunk),
                        "fee": sum(fees),
                        "created": now,
                    }
                )
                file_fee += sum(fees)
                for row, fee in zip(chunk, fees, strict=True):
                    trace = f"{odfi.identification}{sequence % TRACE_SEQUENCE_MODULUS:07d}"
                    sequence += 1
                    if row.direction == Direction.DEBIT:
                        total_debit += row.amount
                    else:
                        total_credit += row.amount
                    batch_events = events.setdefault(merchant_id, EventBatch(merchant_id))
                    await transition(
                        session,
                        row,
                        TransferStatus.BATCHED,
                        batch_events,
                        batch_id=batch_id,
                        file_id=file_id,
                        trace_number=trace,
                        effective_date=effective,
                        fee=fee,
                    )
                    cost_rows.append(costs.ach_cost_row(row, fee, now))
        await repository.insert_file(
            session,
            id=file_id,
            odfi=odfi.key,
            name=f"{odfi.key}-{local.strftime('%Y%m%d-%H%M')}-{modifier}-{file_id}.ach",
            status=FileStatus.PENDING.value,
            creation_date=creation_date,
            creation_time=local.strftime("%H%M"),
            file_id_modifier=modifier,
            batch_count=batch_number,
            entry_count=len(pending),
            total_debit=total_debit,
            total_credit=total_credit,
            fee=file_fee,
            created=now,
        )
        await repository.insert_batches(session, batch_rows)
        await repository.insert_costs(session, cost_rows)
        await repository.update_odfi_state(session, odfi.key, next_sequence=sequence)
        for batch in events.values():
            await batch.flush(session)
        return file_id


def _yymmdd(iso_date: str) -> str:
    return datetime.date.fromisoformat(iso_date).strftime("%y%m%d")


async def build_file(database: Database, vault: Vault, odfi: Odfi, file_row: Any) -> AchFile:
    """The NACHA file of a recorded file row, from its batches and transfers."""
    async with database.transaction() as session:
        batches = await repository.batches_of_file(session, file_row.id)
        transfers = await repository.transfers_of_file(session, file_row.id)
        accounts = await repository.bank_accounts(session, {t.payment_method_id for t in transfers})
        numbers = {
            pm_id: await vault.load_bank_account(session, account.merchant_id, account.vault_token)
            for pm_id, account in accounts.items()
        }
    by_batch: dict[str, list[Any]] = defaultdict(list)
    for transfer in transfers:
        by_batch[transfer.batch_id].append(transfer)
    ach_batches: list[Batch] = []
    for batch in batches:
        entries: list[EntryDetail] = []
        for transfer in sorted(by_batch[batch.id], key=lambda t: t.trace_number):
            account = accounts[transfer.payment_method_id]
            routing = account.routing_number
            code = TRANSACTION_CODES[
                (AccountType(account.account_type), Direction(transfer.direction))
            ]
            name = (account.account_holder_name or "").upper()
            entries.append(
                EntryDetail(
                    transaction_code=code,
                    rdfi_identification=routing[:8],
                    check_digit=routing[8],
                    dfi_account_number=numbers[transfer.payment_method_id],
                    amount=transfer.amount,
                    identification_number=transfer.id[-15:],
                    individual_name="".join(c for c in name if c.isascii() and c.isprintable())[
                        :22
                    ],
                    trace_number=transfer.trace_number,
                    discretionary_data=WEB_PAYMENT_TYPE if batch.sec_code == SecCode.WEB else "",
                )
            )
        ach_batches.append(
            Batch(
                header=BatchHeader(
                    service_class_code=batch.service_class_code,
                    company_name=batch.company_name,
                    company_identification=batch.company_identification,
                    standard_entry_class_code=batch.sec_code,
                    company_entry_description=ENTRY_DESCRIPTION,
                    effective_entry_date=_yymmdd(batch.effective_date),
                    odfi_identification=odfi.identification,
                    batch_number=batch.batch_number,
                ),
                entries=list(entries),
            )
        )
    ach_file = AchFile(
        header=FileHeader(
            immediate_destination=f" {odfi.routing_number}",
            immediate_origin=f" {odfi.routing_number}",
            file_creation_date=file_row.creation_date,
            file_creation_time=file_row.creation_time,
            file_id_modifier=file_row.file_id_modifier,
            immediate_destination_name=odfi.name.upper(),
            immediate_origin_name=ORIGIN_NAME,
        ),
        batches=ach_batches,
    )
    return fill_controls(ach_file)


def outbox_dir(settings: Settings) -> Path:
    return settings.ach_dir / "outbox"


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    temporary = path.with_suffix(path.suffix + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _update_manifest(directory: Path, entry: dict[str, Any]) -> None:
    path = directory / MANIFEST_NAME
    manifest: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"files": []}
    manifest["files"] = [f for f in manifest["files"] if f["name"] != entry["name"]] + [entry]
    _write_atomically(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


async def write_pending_files(
    database: Database, settings: Settings, vault: Vault, *, now: int
) -> tuple[list[str], list[str]]:
    """Step 2: every pending file validated, written and submitted. Returns the names
    written and the names refused by the validator (left pending, logged)."""
    available = odfis(settings)
    async with database.transaction() as session:
        files = await repository.pending_files(session)
    written: list[str] = []
    invalid: list[str] = []
    for file_row in files:
        odfi = available[file_row.odfi]
        ach_file = await build_file(database, vault, odfi, file_row)
        problems = validate_ach(ach_file)
        if problems:
            # Never hand the ODFI a file the validator refuses; the problems name fields
            # and records, never account numbers.
            logger.error(
                "ACH file %s failed validation: %s",
                file_row.name,
                "; ".join(str(p) for p in problems[:5]),
            )
            invalid.append(file_row.name)
            continue
        text = write_ach(ach_file)
        digest = hashlib.sha256(text.encode("ascii")).hexdigest()
        directory = outbox_dir(settings)
        _write_atomically(directory / file_row.name, text)
        _update_manifest(
            directory,
            {
                "name": file_row.name,
                "sha256": digest,
                "odfi": file_row.odfi,
                "created": file_row.created,
                "batch_count": file_row.batch_count,
                "entry_count": file_row.entry_count,
                "total_debit": file_row.total_debit,
                "total_credit": file_row.total_credit,
                "fee": file_row.fee,
            },
        )
        async with database.transaction() as session:
            if not await repository.claim_file(session, file_row.id, sha256=digest, written_at=now):
                continue  # another worker submitted it
            events: dict[str, EventBatch] = {}
            for transfer in await repository.transfers_of_file(session, file_row.id):
                batch = events.setdefault(transfer.merchant_id, EventBatch(transfer.merchant_id))
                await transition(
                    session,
                    transfer,
                    TransferStatus.SUBMITTED,
                    batch,
                    submitted_at=now,
                    settles_at=now + settings.ach_settlement_delay_seconds,
                )
            for batch in events.values():
                await batch.flush(session)
        written.append(file_row.name)
    return written, invalid


async def run_cycle(
    database: Database,
    settings: Settings,
    vault: Vault,
    *,
    now: int,
    as_of: int | None = None,
    odfi_keys: list[str] | None = None,
) -> CycleReport:
    """One batch cycle for the given ODFIs (default all): batches formed at ``as_of``
    (default ``now``, the cut-off a worker cycle stands for), files written."""
    report = CycleReport()
    available = odfis(settings)
    file_ids: list[str] = []
    for key in odfi_keys or list(available):
        file_id = await form_batches(
            database, settings, available[key], now=now, as_of=now if as_of is None else as_of
        )
        if file_id is not None:
            file_ids.append(file_id)
    written, invalid = await write_pending_files(database, settings, vault, now=now)
    report.files = written
    report.invalid_files = invalid
    async with database.transaction() as session:
        for file_id in file_ids:
            for batch in await repository.batches_of_file(session, file_id):
                report.batches += 1
                report.entries += batch.entry_count
                report.fees += batch.fee
            for transfer in await repository.transfers_of_file(session, file_id):
                report.stripe_equivalent += costs.stripe_ach_price(transfer.amount)
    report.fees_if_per_entry = report.entries * settings.ach_fee_amount
    report.fees_if_per_batch = report.batches * settings.ach_fee_amount
    return report


async def run_due_cycles(
    database: Database, settings: Settings, vault: Vault, *, now: int
) -> CycleReport | None:
    """The worker's job: a cycle for every ODFI one of whose cut-offs has passed since
    its last cycle, standing at that cut-off. The first round only starts the clock."""
    due: list[tuple[str, int]] = []
    async with database.transaction() as session:
        for key, odfi in odfis(settings).items():
            state = await repository.odfi_state(session, key)
            if state.last_cycle_at is None:
                await repository.update_odfi_state(session, key, last_cycle_at=now)
                continue
            crossed = odfi.cutoffs_between(int(state.last_cycle_at), now)
            if crossed:
                due.append((key, crossed[-1]))
    if not due:
        # Files formed by a cycle that crashed before writing them are still written.
        written, _ = await write_pending_files(database, settings, vault, now=now)
        return CycleReport(files=written) if written else None
    combined = CycleReport()
    for key, cutoff in due:
        report = await run_cycle(database, settings, vault, now=now, as_of=cutoff, odfi_keys=[key])
        combined.files += report.files
        combined.invalid_files += report.invalid_files
        combined.batches += report.batches
        combined.entries += report.entries
        combined.fees += report.fees
        combined.fees_if_per_entry += report.fees_if_per_entry
        combined.fees_if_per_batch += report.fees_if_per_batch
        combined.stripe_equivalent += report.stripe_equivalent
    return combined
