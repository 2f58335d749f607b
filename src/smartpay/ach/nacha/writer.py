"""Writing an :class:`AchFile` as NACHA text, and filling in the control records.

The writer emits records in file order, one per line, each ``\\n``-terminated, and
ends with as many 9-filled records as complete the last block of ten. It writes what
it is given: controls are not recomputed unless :func:`fill_controls` is called.
"""

from __future__ import annotations

from smartpay.ach.nacha.records import (
    BLOCKING_FACTOR,
    PADDING_RECORD,
    RECORD_LENGTH,
    AchFile,
    AdvBatchControl,
    AdvFileControl,
    AnyBatchControl,
    AnyEntry,
    Batch,
    BatchControl,
    FileControl,
    IatBatchHeader,
    is_credit,
    is_debit,
)

# The entry hash is the sum of the 8-digit RDFI identifications, keeping the low-order
# 10 digits when the sum overflows its 10-column field (NACHA Appendix Three).
ENTRY_HASH_MODULUS = 10**10


def routing_value(rdfi_identification: str) -> int:
    """The RDFI identification as a number for the entry hash; 0 if it is not digits
    (the validator reports that separately)."""
    if rdfi_identification.isdecimal() and rdfi_identification.isascii():
        return int(rdfi_identification)
    return 0


def entry_hash(entries: list[AnyEntry]) -> int:
    return sum(routing_value(entry.rdfi_identification) for entry in entries) % ENTRY_HASH_MODULUS


def batch_totals(batch: Batch) -> tuple[int, int, int]:
    """(entry/addenda count, total debit, total credit) of one batch, amounts in cents."""
    records = 0
    debit = 0
    credit = 0
    for entry in batch.entries:
        records += 1 + len(entry.addenda)
        if is_debit(entry):
            debit += entry.amount
        elif is_credit(entry):
            credit += entry.amount
    return records, debit, credit


def block_count(ach_file: AchFile) -> int:
    """Blocks of ten records the file needs: file header and control, batch header and
    control of each batch, every entry and addenda."""
    records = 2 + sum(
        2 + len(batch.entries) + sum(len(entry.addenda) for entry in batch.entries)
        for batch in ach_file.batches
    )
    return -(-records // BLOCKING_FACTOR)


def batch_control_for(batch: Batch) -> AnyBatchControl:
    """The control record the batch's header and entries call for."""
    header = batch.header
    count, debit, credit = batch_totals(batch)
    hashed = entry_hash(batch.entries)
    if batch.is_adv and not isinstance(header, IatBatchHeader):
        return AdvBatchControl(
            service_class_code=header.service_class_code,
            entry_addenda_count=count,
            entry_hash=hashed,
            total_debit=debit,
            total_credit=credit,
            odfi_identification=header.odfi_identification,
            batch_number=header.batch_number,
        )
    company = (
        header.originator_identification
        if isinstance(header, IatBatchHeader)
        else header.company_identification
    )
    return BatchControl(
        service_class_code=header.service_class_code,
        entry_addenda_count=count,
        entry_hash=hashed,
        total_debit=debit,
        total_credit=credit,
        company_identification=company,
        odfi_identification=header.odfi_identification,
        batch_number=header.batch_number,
    )


def file_control_for(ach_file: AchFile) -> FileControl | AdvFileControl:
    """The file control the file's batches call for (from their entries, not their
    controls, so a wrong batch control does not leak into the file control)."""
    return file_control_from(ach_file, [batch_control_for(batch) for batch in ach_file.batches])


def file_control_from(
    ach_file: AchFile, batch_controls: list[AnyBatchControl]
) -> FileControl | AdvFileControl:
    """The file control adding up ``batch_controls``, the computed controls of the
    file's batches (the validator computes them once for both levels)."""
    control_type = AdvFileControl if ach_file.is_adv else FileControl
    return control_type(
        batch_count=len(ach_file.batches),
        block_count=block_count(ach_file),
        entry_addenda_count=sum(control.entry_addenda_count for control in batch_controls),
        entry_hash=sum(control.entry_hash for control in batch_controls) % ENTRY_HASH_MODULUS,
        total_debit=sum(control.total_debit for control in batch_controls),
        total_credit=sum(control.total_credit for control in batch_controls),
    )


def fill_controls(ach_file: AchFile) -> AchFile:
    """Set every batch control and the file control from the file's content; returns
    the same file, for chaining."""
    for batch in ach_file.batches:
        batch.control = batch_control_for(batch)
    ach_file.control = file_control_for(ach_file)
    return ach_file


def record_lines(ach_file: AchFile) -> list[str]:
    """Every record of the file in order, without padding."""
    lines: list[str] = []
    append = lines.append
    if ach_file.header is not None:
        append(ach_file.header.format())
    for batch in ach_file.batches:
        append(batch.header.format())
        for entry in batch.entries:
            append(entry.format())
            for addenda in entry.addenda:
                append(addenda.format())
        if batch.control is not None:
            append(batch.control.format())
    if ach_file.control is not None:
        append(ach_file.control.format())
    return lines


def write_ach(ach_file: AchFile) -> str:
    """The file as NACHA text. Raises ``ValueError`` if a field does not fit its columns
    (a value built in code that is too long); the validator reports values out of range."""
    lines = record_lines(ach_file)
    if set(map(len, lines)) - {RECORD_LENGTH}:
        for number, text in enumerate(lines, start=1):
            if len(text) != RECORD_LENGTH:
                raise ValueError(
                    f"record {number} is {len(text)} characters, not {RECORD_LENGTH}: "
                    "a field is wider than its columns"
                )
    lines.extend([PADDING_RECORD] * (-len(lines) % BLOCKING_FACTOR))
    return "\n".join(lines) + "\n"
