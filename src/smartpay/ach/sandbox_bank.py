"""The sandbox bank: the ODFI (and RDFI) of the ``sandbox`` ODFI's files.

It takes each file SmartPay writes to the outbox for it, and once the simulated
settlement delay (SMARTPAY_ACH_SANDBOX_RETURN_DELAY_SECONDS) has passed since it took
the file, answers with a NACHA returns file in SmartPay's inbox for the entries sent to
Stripe's documented test accounts (routing 110000000). Every other entry succeeds.

The bank keeps its own state on disk, as a separate party would: ``sandbox_bank/``
holds a copy of each file taken and a ``<name>.json`` saying when it was taken and
answered. Time is passed in (``now``), so tests control the clock.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from smartpay.ach.batching import outbox_dir
from smartpay.ach.nacha import (
    AchFile,
    Addenda99,
    Batch,
    BatchHeader,
    EntryDetail,
    FileHeader,
    fill_controls,
    read_ach,
    validate_ach,
    write_ach,
)
from smartpay.ach.nacha.records import MIXED_DEBITS_AND_CREDITS
from smartpay.ach.odfi import SANDBOX_ODFI, SANDBOX_ROUTING_NUMBER, odfis
from smartpay.ach.returns import inbox_dir
from smartpay.config import Settings

# Stripe's ACH test account numbers (docs.stripe.com/payments/ach-direct-debit,
# "Test account numbers"), with routing number 110000000, and the return each causes.
TEST_ACCOUNT_RETURNS: dict[str, str | None] = {
    "000123456789": None,  # succeeds
    "000111111113": "R02",  # account closed
    "000111111116": "R03",  # no account / unable to locate
    "000222222227": "R01",  # insufficient funds
    "000333333335": "R10",  # customer advises unauthorized
}
# A return entry carries the return version of the original transaction code: the
# second digit becomes 1 (credit) or 6 (debit), NACHA Appendix Three.
RETURN_TRANSACTION_CODES = {22: 21, 27: 26, 32: 31, 37: 36}


def bank_dir(settings: Settings) -> Path:
    return settings.ach_dir / "sandbox_bank"


def _state_path(settings: Settings, name: str) -> Path:
    return bank_dir(settings) / f"{name}.json"


def take(settings: Settings, *, now: int) -> list[str]:
    """Takes every outbox file of the sandbox ODFI not taken yet. Returns their names."""
    if SANDBOX_ODFI not in odfis(settings):
        return []
    outbox = outbox_dir(settings)
    if not outbox.is_dir():
        return []
    taken: list[str] = []
    directory = bank_dir(settings)
    for path in sorted(outbox.glob(f"{SANDBOX_ODFI}-*.ach")):
        if _state_path(settings, path.name).exists():
            continue
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, directory / path.name)
        _state_path(settings, path.name).write_text(json.dumps({"taken_at": now}))
        taken.append(path.name)
    return taken


def returns_for(original: AchFile, *, created_date: str, created_time: str) -> AchFile | None:
    """The returns file answering ``original``, or None when nothing is returned."""
    rdfi = SANDBOX_ROUTING_NUMBER[:8]
    sequence = 0
    batches: list[Batch] = []
    for batch in original.batches:
        header = batch.header
        if not isinstance(header, BatchHeader):
            continue
        entries: list[EntryDetail] = []
        for entry in batch.entries:
            if not isinstance(entry, EntryDetail):
                continue
            routing = entry.rdfi_identification + entry.check_digit
            code = TEST_ACCOUNT_RETURNS.get(entry.dfi_account_number.strip())
            if routing != SANDBOX_ROUTING_NUMBER or code is None:
                continue
            sequence += 1
            trace = f"{rdfi}{sequence:07d}"
            entries.append(
                EntryDetail(
                    transaction_code=RETURN_TRANSACTION_CODES.get(
                        entry.transaction_code, entry.transaction_code
                    ),
                    rdfi_identification=entry.rdfi_identification,
                    check_digit=entry.check_digit,
                    dfi_account_number=entry.dfi_account_number,
                    amount=entry.amount,
                    identification_number=entry.identification_number,
                    individual_name=entry.individual_name,
                    trace_number=trace,
                    discretionary_data=entry.discretionary_data,
                    addenda_record_indicator=1,
                    addenda=[
                        Addenda99(
                            return_reason_code=code,
                            original_trace_number=entry.trace_number,
                            original_rdfi_identification=entry.rdfi_identification,
                            trace_number=trace,
                        )
                    ],
                )
            )
        if entries:
            batches.append(
                Batch(
                    header=BatchHeader(
                        service_class_code=MIXED_DEBITS_AND_CREDITS,
                        company_name=header.company_name,
                        company_identification=header.company_identification,
                        standard_entry_class_code=header.standard_entry_class_code,
                        company_entry_description=header.company_entry_description,
                        effective_entry_date=header.effective_entry_date,
                        odfi_identification=rdfi,
                        batch_number=len(batches) + 1,
                    ),
                    entries=list(entries),
                )
            )
    if not batches or original.header is None:
        return None
    return fill_controls(
        AchFile(
            header=FileHeader(
                immediate_destination=original.header.immediate_origin,
                immediate_origin=f" {SANDBOX_ROUTING_NUMBER}",
                file_creation_date=created_date,
                file_creation_time=created_time,
                file_id_modifier="A",
                immediate_destination_name=original.header.immediate_origin_name,
                immediate_origin_name="SANDBOX BANK",
            ),
            batches=batches,
        )
    )


def respond(settings: Settings, *, now: int) -> list[str]:
    """Answers every taken file whose settlement delay has passed: writes its returns
    file (if any entry is returned) to SmartPay's inbox. Returns the names written."""
    directory = bank_dir(settings)
    if not directory.is_dir():
        return []
    odfi = odfis(settings)[SANDBOX_ODFI]
    written: list[str] = []
    for state_path in sorted(directory.glob("*.ach.json")):
        state = json.loads(state_path.read_text())
        if (
            "answered_at" in state
            or state["taken_at"] + settings.ach_sandbox_return_delay_seconds > now
        ):
            continue
        name = state_path.name.removesuffix(".json")
        original = read_ach((directory / name).read_bytes()).file
        local = odfi.local(now)
        answer = returns_for(
            original, created_date=local.strftime("%y%m%d"), created_time=local.strftime("%H%M")
        )
        if answer is not None:
            problems = validate_ach(answer)
            if problems:  # a bug in the sandbox itself: fail loudly, in tests too
                raise RuntimeError(f"sandbox returns file invalid: {problems[:3]}")
            inbox = inbox_dir(settings)
            inbox.mkdir(parents=True, exist_ok=True)
            target = inbox / f"RET-{name}"
            target.write_text(write_ach(answer), encoding="ascii")
            target.chmod(0o600)
            written.append(target.name)
        state["answered_at"] = now
        state_path.write_text(json.dumps(state))
    return written
