"""The records of a NACHA file as typed values, and how each one maps to its 94 columns.

Field positions follow the NACHA Operating Rules, Appendix Three (record formats), as
also implemented by moov-io/ach. Conventions:

* Text fields hold the column text with trailing blanks removed; the writer pads them
  back with blanks, so reading then writing gives the same columns. Leading blanks are
  kept (the file header's routing fields are ``" 123456789"``).
* Numeric fields NACHA defines as counts or money are ``int`` (money in cents);
  identifiers made of digits (routing numbers, trace numbers, dates) stay ``str`` so
  that their leading zeros and any malformed content survive for the validator.
* ``line`` is where the record was read (0 for a record built in code); it never
  takes part in equality and is not written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# NACHA Operating Rules, Appendix Three: every record is 94 characters.
RECORD_LENGTH = 94
# NACHA Operating Rules: records are grouped in blocks of 10; the last block is filled
# with records of all 9s.
BLOCKING_FACTOR = 10
PADDING_RECORD = "9" * RECORD_LENGTH

FILE_HEADER = "1"
BATCH_HEADER = "5"
ENTRY_DETAIL = "6"
ADDENDA = "7"
BATCH_CONTROL = "8"
FILE_CONTROL = "9"

# Service class codes (NACHA Appendix Three, batch header field 2).
MIXED_DEBITS_AND_CREDITS = 200
CREDITS_ONLY = 220
DEBITS_ONLY = 225
AUTOMATED_ACCOUNTING_ADVICES = 280

# SEC codes with a layout of their own.
IAT = "IAT"
ADV = "ADV"
COR = "COR"
# An IAT notification of change has SEC code COR and this IAT indicator (columns 5-20).
IAT_COR_INDICATOR = "IATCOR"


@dataclass(slots=True)
class FileHeader:
    """Record type 1: who sends the file to whom, and when."""

    immediate_destination: str
    immediate_origin: str
    file_creation_date: str
    file_creation_time: str
    file_id_modifier: str
    immediate_destination_name: str
    immediate_origin_name: str
    reference_code: str = ""
    priority_code: str = "01"
    record_size: str = "094"
    blocking_factor: str = "10"
    format_code: str = "1"
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return (
            f"1{self.priority_code:<2}{self.immediate_destination:<10}"
            f"{self.immediate_origin:<10}{self.file_creation_date:<6}"
            f"{self.file_creation_time:<4}{self.file_id_modifier:<1}{self.record_size:<3}"
            f"{self.blocking_factor:<2}{self.format_code:<1}"
            f"{self.immediate_destination_name:<23}{self.immediate_origin_name:<23}"
            f"{self.reference_code:<8}"
        )


@dataclass(slots=True)
class BatchHeader:
    """Record type 5 for every SEC code but IAT: the originator and the kind of entries."""

    service_class_code: int
    company_name: str
    company_identification: str
    standard_entry_class_code: str
    company_entry_description: str
    effective_entry_date: str
    odfi_identification: str
    batch_number: int
    company_discretionary_data: str = ""
    company_descriptive_date: str = ""
    settlement_date: str = ""
    originator_status_code: str = "1"
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return (
            f"5{self.service_class_code:03d}{self.company_name:<16}"
            f"{self.company_discretionary_data:<20}{self.company_identification:<10}"
            f"{self.standard_entry_class_code:<3}{self.company_entry_description:<10}"
            f"{self.company_descriptive_date:<6}{self.effective_entry_date:<6}"
            f"{self.settlement_date:<3}{self.originator_status_code:<1}"
            f"{self.odfi_identification:<8}{self.batch_number:07d}"
        )


@dataclass(slots=True)
class IatBatchHeader:
    """Record type 5 of an International ACH Transaction batch (SEC IAT, or COR/IATCOR)."""

    service_class_code: int
    iat_indicator: str
    foreign_exchange_indicator: str
    foreign_exchange_reference_indicator: str
    foreign_exchange_reference: str
    iso_destination_country_code: str
    originator_identification: str
    standard_entry_class_code: str
    company_entry_description: str
    iso_originating_currency_code: str
    iso_destination_currency_code: str
    effective_entry_date: str
    odfi_identification: str
    batch_number: int
    settlement_date: str = ""
    originator_status_code: str = "1"
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return (
            f"5{self.service_class_code:03d}{self.iat_indicator:<16}"
            f"{self.foreign_exchange_indicator:<2}{self.foreign_exchange_reference_indicator:<1}"
            f"{self.foreign_exchange_reference:<15}{self.iso_destination_country_code:<2}"
            f"{self.originator_identification:<10}{self.standard_entry_class_code:<3}"
            f"{self.company_entry_description:<10}{self.iso_originating_currency_code:<3}"
            f"{self.iso_destination_currency_code:<3}{self.effective_entry_date:<6}"
            f"{self.settlement_date:<3}{self.originator_status_code:<1}"
            f"{self.odfi_identification:<8}{self.batch_number:07d}"
        )


@dataclass(slots=True)
class Addenda05:
    """Addenda type 05: payment related information (PPD, CCD, WEB, CTX...)."""

    payment_related_information: str
    addenda_sequence_number: int
    entry_detail_sequence_number: int
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return (
            f"705{self.payment_related_information:<80}"
            f"{self.addenda_sequence_number:04d}{self.entry_detail_sequence_number:07d}"
        )


@dataclass(slots=True)
class Addenda98:
    """Addenda type 98: a notification of change (or a refused one, change codes C61-C69)."""

    change_code: str
    original_trace_number: str
    original_rdfi_identification: str
    corrected_data: str
    trace_number: str
    reserved: str = ""
    reserved_after_corrected_data: str = ""
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return (
            f"798{self.change_code:<3}{self.original_trace_number:<15}{self.reserved:<6}"
            f"{self.original_rdfi_identification:<8}{self.corrected_data:<29}"
            f"{self.reserved_after_corrected_data:<15}{self.trace_number:<15}"
        )


@dataclass(slots=True)
class Addenda99:
    """Addenda type 99: a return. Dishonored (R61, R67-R70) and contested (R71-R77)
    returns reuse columns 22-79 for their own fields; they are kept here as written."""

    return_reason_code: str
    original_trace_number: str
    original_rdfi_identification: str
    trace_number: str
    date_of_death: str = ""
    addenda_information: str = ""
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return (
            f"799{self.return_reason_code:<3}{self.original_trace_number:<15}"
            f"{self.date_of_death:<6}{self.original_rdfi_identification:<8}"
            f"{self.addenda_information:<44}{self.trace_number:<15}"
        )


@dataclass(slots=True)
class OtherAddenda:
    """Any other addenda type (02 for POS/SHR/MTE, 10-18 for IAT), kept as its columns
    4-94 so it is written back unchanged; the validator reads the sub-fields it checks."""

    type_code: str
    content: str
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return f"7{self.type_code:<2}{self.content:<91}"


Addenda = Addenda05 | Addenda98 | Addenda99 | OtherAddenda


@dataclass(slots=True)
class EntryDetail:
    """Record type 6 for every SEC code but IAT and ADV.

    ``identification_number`` and ``individual_name`` are columns 40-54 and 55-76; CTX,
    CIE, SHR and others give those columns other meanings (see the validator).
    """

    transaction_code: int
    rdfi_identification: str
    check_digit: str
    dfi_account_number: str
    amount: int
    identification_number: str
    individual_name: str
    trace_number: str
    discretionary_data: str = ""
    addenda_record_indicator: int = 0
    addenda: list[Addenda] = field(default_factory=list)
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return (
            f"6{self.transaction_code:02d}{self.rdfi_identification:<8}{self.check_digit:<1}"
            f"{self.dfi_account_number:<17}{self.amount:010d}"
            f"{self.identification_number:<15}{self.individual_name:<22}"
            f"{self.discretionary_data:<2}{self.addenda_record_indicator:1d}"
            f"{self.trace_number:<15}"
        )


@dataclass(slots=True)
class IatEntryDetail:
    """Record type 6 of an IAT batch; the receiver's details travel in addenda 10-18."""

    transaction_code: int
    rdfi_identification: str
    check_digit: str
    addenda_records: int
    amount: int
    dfi_account_number: str
    trace_number: str
    reserved: str = ""
    reserved_after_account: str = ""
    ofac_screening_indicator: str = ""
    secondary_ofac_screening_indicator: str = ""
    addenda_record_indicator: int = 1
    addenda: list[Addenda] = field(default_factory=list)
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return (
            f"6{self.transaction_code:02d}{self.rdfi_identification:<8}{self.check_digit:<1}"
            f"{self.addenda_records:04d}{self.reserved:<13}{self.amount:010d}"
            f"{self.dfi_account_number:<35}{self.reserved_after_account:<2}"
            f"{self.ofac_screening_indicator:<1}{self.secondary_ofac_screening_indicator:<1}"
            f"{self.addenda_record_indicator:1d}{self.trace_number:<15}"
        )


@dataclass(slots=True)
class AdvEntryDetail:
    """Record type 6 of an ADV (automated accounting advice) batch, sent by an ACH operator."""

    transaction_code: int
    rdfi_identification: str
    check_digit: str
    dfi_account_number: str
    amount: int
    advice_routing_number: str
    file_identification: str
    individual_name: str
    ach_operator_routing_number: str
    julian_day: str
    sequence_number: str
    ach_operator_data: str = ""
    discretionary_data: str = ""
    addenda_record_indicator: int = 0
    addenda: list[Addenda] = field(default_factory=list)
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return (
            f"6{self.transaction_code:02d}{self.rdfi_identification:<8}{self.check_digit:<1}"
            f"{self.dfi_account_number:<15}{self.amount:012d}{self.advice_routing_number:<9}"
            f"{self.file_identification:<5}{self.ach_operator_data:<1}"
            f"{self.individual_name:<22}{self.discretionary_data:<2}"
            f"{self.addenda_record_indicator:1d}{self.ach_operator_routing_number:<8}"
            f"{self.julian_day:<3}{self.sequence_number:<4}"
        )


AnyEntry = EntryDetail | IatEntryDetail | AdvEntryDetail


@dataclass(slots=True)
class BatchControl:
    """Record type 8: counts and totals of one batch (every SEC code but ADV)."""

    service_class_code: int
    entry_addenda_count: int
    entry_hash: int
    total_debit: int
    total_credit: int
    company_identification: str
    odfi_identification: str
    batch_number: int
    message_authentication_code: str = ""
    reserved: str = ""
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return (
            f"8{self.service_class_code:03d}{self.entry_addenda_count:06d}"
            f"{self.entry_hash:010d}{self.total_debit:012d}{self.total_credit:012d}"
            f"{self.company_identification:<10}{self.message_authentication_code:<19}"
            f"{self.reserved:<6}{self.odfi_identification:<8}{self.batch_number:07d}"
        )


@dataclass(slots=True)
class AdvBatchControl:
    """Record type 8 of an ADV batch: wider totals, no company identification."""

    service_class_code: int
    entry_addenda_count: int
    entry_hash: int
    total_debit: int
    total_credit: int
    odfi_identification: str
    batch_number: int
    ach_operator_data: str = ""
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return (
            f"8{self.service_class_code:03d}{self.entry_addenda_count:06d}"
            f"{self.entry_hash:010d}{self.total_debit:020d}{self.total_credit:020d}"
            f"{self.ach_operator_data:<19}{self.odfi_identification:<8}{self.batch_number:07d}"
        )


AnyBatchHeader = BatchHeader | IatBatchHeader
AnyBatchControl = BatchControl | AdvBatchControl


@dataclass(slots=True)
class FileControl:
    """Record type 9: counts and totals of the whole file."""

    batch_count: int
    block_count: int
    entry_addenda_count: int
    entry_hash: int
    total_debit: int
    total_credit: int
    reserved: str = ""
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return (
            f"9{self.batch_count:06d}{self.block_count:06d}{self.entry_addenda_count:08d}"
            f"{self.entry_hash:010d}{self.total_debit:012d}{self.total_credit:012d}"
            f"{self.reserved:<39}"
        )


@dataclass(slots=True)
class AdvFileControl:
    """Record type 9 of a file of ADV batches: wider totals."""

    batch_count: int
    block_count: int
    entry_addenda_count: int
    entry_hash: int
    total_debit: int
    total_credit: int
    reserved: str = ""
    line: int = field(default=0, compare=False)

    def format(self) -> str:
        return (
            f"9{self.batch_count:06d}{self.block_count:06d}{self.entry_addenda_count:08d}"
            f"{self.entry_hash:010d}{self.total_debit:020d}{self.total_credit:020d}"
            f"{self.reserved:<23}"
        )


AnyFileControl = FileControl | AdvFileControl


@dataclass(slots=True)
class Batch:
    """A batch header, its entries (each with its addenda) and its control."""

    header: AnyBatchHeader
    entries: list[AnyEntry] = field(default_factory=list)
    control: AnyBatchControl | None = None

    @property
    def sec_code(self) -> str:
        return self.header.standard_entry_class_code

    @property
    def is_iat(self) -> bool:
        return isinstance(self.header, IatBatchHeader)

    @property
    def is_adv(self) -> bool:
        return self.header.standard_entry_class_code == ADV


@dataclass(slots=True)
class AchFile:
    """A whole NACHA file. ``header`` or ``control`` is ``None`` when the file read had none."""

    header: FileHeader | None
    batches: list[Batch] = field(default_factory=list)
    control: AnyFileControl | None = None

    @property
    def is_adv(self) -> bool:
        """A file of ADV batches has the ADV file control layout."""
        return bool(self.batches) and all(batch.is_adv for batch in self.batches)


# Transaction codes, NACHA Appendix Three (entry detail field 2). The second digit says
# the direction: 1-4 credit (1 a return/NOC, 3 a prenote, 4 zero dollar), 5-9 debit.
CREDIT_TRANSACTION_CODES = frozenset(
    {21, 22, 23, 24, 31, 32, 33, 34, 41, 42, 43, 44, 51, 52, 53, 54}
)
DEBIT_TRANSACTION_CODES = frozenset({26, 27, 28, 29, 36, 37, 38, 39, 46, 47, 48, 49, 55, 56})
# Prenotifications (x3, x8) and zero-dollar remittance entries (x4, x9) carry no money.
ZERO_AMOUNT_TRANSACTION_CODES = frozenset({23, 24, 28, 29, 33, 34, 38, 39, 43, 44, 48, 49, 53, 54})
# Automated returns and notifications of change (x1, x6).
RETURN_OR_NOC_TRANSACTION_CODES = frozenset({21, 26, 31, 36, 41, 46, 51, 56})
# ADV entries (moov-io/ach adventryDetail.go): odd codes are credits, even are debits.
ADV_CREDIT_TRANSACTION_CODES = frozenset({81, 83, 85, 87})
ADV_DEBIT_TRANSACTION_CODES = frozenset({82, 84, 86, 88})


def is_debit(entry: AnyEntry) -> bool:
    if isinstance(entry, AdvEntryDetail):
        return entry.transaction_code in ADV_DEBIT_TRANSACTION_CODES
    return entry.transaction_code in DEBIT_TRANSACTION_CODES


def is_credit(entry: AnyEntry) -> bool:
    if isinstance(entry, AdvEntryDetail):
        return entry.transaction_code in ADV_CREDIT_TRANSACTION_CODES
    return entry.transaction_code in CREDIT_TRANSACTION_CODES
