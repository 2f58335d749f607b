"""The strict NACHA validator: every rule is checked and every problem reported.

Checked, record by record and then across records:

* field content: numeric fields are digits, text is printable ASCII, mandatory fields
  are neither blank nor zeros, codes come from NACHA's lists (service class, SEC,
  transaction, return reason, change, IAT transaction type), dates are real dates;
* routing numbers: the check digit (weights 3, 7, 1) of the immediate destination and
  of every RDFI;
* batch control against its header (service class, company, ODFI, batch number) and
  against its entries (entry/addenda count, entry hash, debit and credit totals); the
  file control against the batches, including the block count;
* entries: trace numbers ascending and starting with the ODFI's routing number, debit
  or credit as the service class code allows (220 credits, 225 debits), no money on a
  prenote or zero-dollar entry, the addenda indicator matching the addenda;
* SEC rules: PPD, CCD, WEB at most one addenda 05; TEL none; CTX up to 9999 addenda 05
  matching the count in the entry; COR entries carry exactly one addenda 98; returns one
  addenda 99; IAT entries carry addenda 10-16 (and up to two 17s and five 18s);
  POS/SHR/MTE take addenda 02. Other SEC codes get the general checks.

``ValidationOptions`` relaxes some rules the way moov-io/ach's ValidateOpts does.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass

from smartpay.ach.nacha.errors import ErrorKind, ValidationError
from smartpay.ach.nacha.records import (
    AUTOMATED_ACCOUNTING_ADVICES,
    COR,
    CREDITS_ONLY,
    DEBITS_ONLY,
    MIXED_DEBITS_AND_CREDITS,
    RETURN_OR_NOC_TRANSACTION_CODES,
    ZERO_AMOUNT_TRANSACTION_CODES,
    AchFile,
    Addenda05,
    Addenda98,
    Addenda99,
    AdvEntryDetail,
    AdvFileControl,
    AnyBatchControl,
    AnyEntry,
    Batch,
    BatchControl,
    BatchHeader,
    EntryDetail,
    FileHeader,
    IatBatchHeader,
    IatEntryDetail,
    OtherAddenda,
    is_credit,
    is_debit,
)
from smartpay.ach.nacha.writer import batch_control_for, file_control_from

SERVICE_CLASS_CODES = frozenset(
    {MIXED_DEBITS_AND_CREDITS, CREDITS_ONLY, DEBITS_ONLY, AUTOMATED_ACCOUNTING_ADVICES}
)
# NACHA Operating Rules, Appendix Three: the Standard Entry Class codes.
SEC_CODES = frozenset(
    {
        "ACK",
        "ADV",
        "ARC",
        "ATX",
        "BOC",
        "CCD",
        "CIE",
        "COR",
        "CTX",
        "DNE",
        "ENR",
        "IAT",
        "MTE",
        "POP",
        "POS",
        "PPD",
        "RCK",
        "SHR",
        "TEL",
        "TRC",
        "TRX",
        "WEB",
        "XCK",
    }
)
ENTRY_TRANSACTION_CODES = frozenset(
    {21, 22, 23, 24, 26, 27, 28, 29, 31, 32, 33, 34, 36, 37, 38, 39}
    | {41, 42, 43, 44, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56}
)
ADV_TRANSACTION_CODES = frozenset(range(81, 89))
# NACHA Operating Rules, Appendix Four: return reason codes (R01-R53 with gaps; R61-R77
# dishonored and contested returns; R80-R85 IAT and operator returns).
RETURN_REASON_CODES = frozenset(
    {f"R{n:02d}" for n in range(1, 54)}
    | {"R61", "R62", "R67", "R68", "R69", "R70", "R71", "R72", "R73", "R74", "R75", "R76"}
    | {"R77", "R80", "R81", "R82", "R83", "R84", "R85"}
)
# NACHA Operating Rules, Appendix Five: change codes C01-C14 (C04-C07 included) and the
# refused-NOC codes C61-C69.
CHANGE_CODES = frozenset({f"C{n:02d}" for n in range(1, 15)} | {f"C{n}" for n in range(61, 70)})
# IAT addenda 10, field 3 (NACHA Appendix Three): the transaction type codes.
IAT_TRANSACTION_TYPE_CODES = frozenset(
    {
        "ANN",
        "BUS",
        "DEP",
        "LOA",
        "MIS",
        "MOR",
        "PEN",
        "RLS",
        "REM",
        "SAL",
        "TAX",
        "TEL",
        "WEB",
        "ARC",
        "BOC",
        "POP",
        "RCK",
        "MTE",
        "POS",
        "SHR",
    }
)
# The mandatory IAT addenda, in order (NACHA Appendix Three, IAT addenda 10-16).
IAT_MANDATORY_ADDENDA = ("10", "11", "12", "13", "14", "15", "16")
# IAT remittance (17) and foreign correspondent bank (18) addenda limits.
IAT_MAX_ADDENDA_17 = 2
IAT_MAX_ADDENDA_18 = 5
# Most addenda 05 an entry may carry, by SEC code (NACHA Operating Rules, Subsection
# 2.5: one for PPD, CCD, WEB, CIE...; 9,999 for CTX and other "multiple addenda" codes;
# none for check conversion and telephone entries). Absent codes: no limit checked.
MAX_ADDENDA_05 = {
    "PPD": 1,
    "CCD": 1,
    "WEB": 1,
    "CIE": 1,
    "ACK": 1,
    "DNE": 1,
    "TEL": 0,
    "ARC": 0,
    "BOC": 0,
    "POP": 0,
    "RCK": 0,
    "XCK": 0,
    "TRC": 0,
    "CTX": 9999,
    "ATX": 9999,
    "ENR": 9999,
    "TRX": 9999,
    "POS": 0,
    "SHR": 0,
    "MTE": 0,
}
# SEC codes whose entries carry a terminal addenda 02 (NACHA: POS, SHR, MTE).
ADDENDA_02_SEC_CODES = frozenset({"POS", "SHR", "MTE"})
# SEC codes where the receiver's name is mandatory (moov-io/ach: TEL; NACHA requires a
# name for consumer telephone authorizations).
INDIVIDUAL_NAME_REQUIRED = frozenset({"TEL"})
# SEC codes with entry rules beyond the general ones (checked in ``_Checker.entry``).
SEC_CODES_WITH_ENTRY_RULES = INDIVIDUAL_NAME_REQUIRED | {"SHR", "CTX", COR}
DIGITS = "0123456789"
# Check digit weights of an ABA routing number, repeated over its first 8 digits.
ROUTING_WEIGHTS = (3, 7, 1, 3, 7, 1, 3, 7)
# Entry detail sequence number: the last 7 digits of the trace number.
SEQUENCE_DIGITS = 7
MAX_ENTRY_AMOUNT = 10**10 - 1  # 10 columns of cents
MAX_ADV_AMOUNT = 10**12 - 1  # 12 columns of cents


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """Rules a caller may relax, named after moov-io/ach's ValidateOpts."""

    allow_invalid_check_digit: bool = False
    """Do not check RDFI check digits (AllowInvalidCheckDigit)."""
    custom_trace_numbers: bool = False
    """Trace numbers need not be digits starting with the ODFI (CustomTraceNumbers)."""
    custom_return_codes: bool = False
    """Any three characters are accepted as a return reason code (CustomReturnCodes)."""
    allow_empty_individual_name: bool = False
    """TEL entries may have no receiver name (AllowEmptyIndividualName)."""
    bypass_destination_validation: bool = False
    """The immediate destination need not be a routing number (BypassDestinationValidation)."""


@functools.cache
def routing_check_digit(first_eight: str) -> int:
    """The ninth digit of an ABA routing number: weights 3, 7, 1 over the first eight
    digits, and the digit that brings the sum to a multiple of 10. Cached: a file sends
    many entries to few banks."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first_eight, ROUTING_WEIGHTS, strict=True)
    )
    return (10 - total % 10) % 10


def is_routing_number(value: str) -> bool:
    return (
        len(value) == 9
        and value.isdecimal()
        and value.isascii()
        and routing_check_digit(value[:8]) == int(value[8])
    )


# Return reason codes of a dishonored return (ODFI refuses the return) and of a
# contested dishonored return (RDFI contests the dishonor), NACHA Appendix Four.
DISHONORED_RETURN_CODES = frozenset({"R61", "R62", "R67", "R68", "R69", "R70"})
CONTESTED_RETURN_CODES = frozenset({"R71", "R72", "R73", "R74", "R75", "R76", "R77"})


def return_kind(code: str) -> str:
    if code in DISHONORED_RETURN_CODES:
        return "dishonored"
    if code in CONTESTED_RETURN_CODES:
        return "contested"
    return "return"


def _is_digits(value: str, width: int) -> bool:
    return len(value) == width and value.isdecimal() and value.isascii()


def _is_text(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _is_blank_or_zeros(value: str) -> bool:
    return value.strip(" 0") == ""


def _is_date(value: str) -> bool:
    """A real YYMMDD date."""
    if not _is_digits(value, 6):
        return False
    try:
        datetime.date(2000 + int(value[:2]), int(value[2:4]), int(value[4:6]))
    except ValueError:
        return False
    return True


class _Checker:
    def __init__(self, options: ValidationOptions) -> None:
        self.options = options
        self.errors: list[ValidationError] = []

    def add(
        self, line: int, record: str, field: str, expected: str, found: str, kind: ErrorKind
    ) -> None:
        self.errors.append(ValidationError(line or None, record, field, expected, found, kind))

    def text(self, value: str, line: int, record: str, field: str) -> None:
        if not (value.isascii() and value.isprintable()):
            bad = next(
                (char for char in value if not (char.isascii() and char.isprintable())), value
            )
            self.add(
                line,
                record,
                field,
                "printable ASCII",
                f"{value!r} (character {bad!r})",
                ErrorKind.NON_ALPHANUMERIC,
            )

    def mandatory(self, value: str, line: int, record: str, field: str) -> None:
        if _is_blank_or_zeros(value):
            self.add(
                line,
                record,
                field,
                "a value (not blank, not only zeros)",
                repr(value),
                ErrorKind.MANDATORY_FIELD,
            )
        else:
            self.text(value, line, record, field)

    def digits(self, value: str, width: int, line: int, record: str, field: str) -> bool:
        if _is_digits(value, width):
            return True
        self.add(line, record, field, f"{width} digits", repr(value), ErrorKind.NOT_NUMERIC)
        return False

    def one_of(
        self,
        value: object,
        allowed: frozenset[object] | frozenset[str] | frozenset[int],
        line: int,
        record: str,
        field: str,
        expected: str,
    ) -> bool:
        if value in allowed:
            return True
        self.add(line, record, field, expected, repr(value), ErrorKind.INVALID_VALUE)
        return False

    def equal(
        self,
        expected: object,
        found: object,
        line: int,
        record: str,
        field: str,
        kind: ErrorKind,
    ) -> None:
        if expected != found:
            self.add(line, record, field, repr(expected), repr(found), kind)

    # -- file header -------------------------------------------------------------------

    def file_header(self, header: FileHeader) -> None:
        line, record = header.line, "file header"
        if header.priority_code != "01":
            self.add(
                line,
                record,
                "priority code",
                "'01'",
                repr(header.priority_code),
                ErrorKind.INVALID_VALUE,
            )
        destination = header.immediate_destination.strip()
        if len(destination) == 10 and destination[0] == "0":
            # A 10-digit destination is a routing number with a leading zero.
            destination = destination[1:]
        if not self.options.bypass_destination_validation:
            if not _is_digits(destination, 9):
                self.add(
                    line,
                    record,
                    "immediate destination",
                    "a 9-digit routing number",
                    repr(header.immediate_destination),
                    ErrorKind.NOT_NUMERIC,
                )
            elif not is_routing_number(destination):
                self.add(
                    line,
                    record,
                    "immediate destination",
                    f"check digit {routing_check_digit(destination[:8])}",
                    f"{destination[8]} in {destination}",
                    ErrorKind.CHECK_DIGIT,
                )
        self.mandatory(header.immediate_origin, line, record, "immediate origin")
        if not _is_date(header.file_creation_date):
            self.add(
                line,
                record,
                "file creation date",
                "a YYMMDD date",
                repr(header.file_creation_date),
                ErrorKind.INVALID_VALUE,
            )
        time = header.file_creation_time
        if time and not (_is_digits(time, 4) and int(time[:2]) < 24 and int(time[2:]) < 60):
            self.add(
                line,
                record,
                "file creation time",
                "an HHMM time or blank",
                repr(time),
                ErrorKind.INVALID_VALUE,
            )
        modifier = header.file_id_modifier
        if not (
            len(modifier) == 1
            and modifier.isascii()
            and (modifier.isupper() or modifier.isdecimal())
        ):
            self.add(
                line,
                record,
                "file ID modifier",
                "one of A-Z or 0-9",
                repr(modifier),
                ErrorKind.INVALID_VALUE,
            )
        for field, value, expected in (
            ("record size", header.record_size, "094"),
            ("blocking factor", header.blocking_factor, "10"),
            ("format code", header.format_code, "1"),
        ):
            if value != expected:
                self.add(line, record, field, repr(expected), repr(value), ErrorKind.INVALID_VALUE)
        self.text(header.immediate_destination_name, line, record, "immediate destination name")
        self.text(header.immediate_origin_name, line, record, "immediate origin name")
        self.text(header.reference_code, line, record, "reference code")

    # -- batch header ------------------------------------------------------------------

    def batch_header(self, header: BatchHeader | IatBatchHeader) -> None:
        line, record = header.line, "batch header"
        self.one_of(
            header.service_class_code,
            SERVICE_CLASS_CODES,
            line,
            record,
            "service class code",
            "200, 220, 225 or 280",
        )
        self.one_of(
            header.standard_entry_class_code,
            SEC_CODES,
            line,
            record,
            "standard entry class code",
            "a NACHA SEC code",
        )
        self.mandatory(header.company_entry_description, line, record, "company entry description")
        # Not a date check: returns, NOCs and operator files carry 000000 or blanks
        # here (moov-io/ach reads it leniently too); the ACH operator sets the real date.
        self.text(header.effective_entry_date, line, record, "effective entry date")
        self.text(header.settlement_date, line, record, "settlement date")
        self.one_of(
            header.originator_status_code,
            frozenset({"0", "1", "2"}),
            line,
            record,
            "originator status code",
            "0, 1 or 2",
        )
        self.digits(header.odfi_identification, 8, line, record, "ODFI identification")
        if isinstance(header, IatBatchHeader):
            self.text(header.iat_indicator, line, record, "IAT indicator")
            self.one_of(
                header.foreign_exchange_indicator,
                frozenset({"FV", "VF", "FF"}),
                line,
                record,
                "foreign exchange indicator",
                "FV, VF or FF",
            )
            self.one_of(
                header.foreign_exchange_reference_indicator,
                frozenset({"1", "2", "3"}),
                line,
                record,
                "foreign exchange reference indicator",
                "1, 2 or 3",
            )
            self.text(header.foreign_exchange_reference, line, record, "foreign exchange reference")
            for field, value, width in (
                ("ISO destination country code", header.iso_destination_country_code, 2),
                ("ISO originating currency code", header.iso_originating_currency_code, 3),
                ("ISO destination currency code", header.iso_destination_currency_code, 3),
            ):
                if not (len(value) == width and value.isascii() and value.isalpha()):
                    self.add(
                        line,
                        record,
                        field,
                        f"{width} letters",
                        repr(value),
                        ErrorKind.INVALID_VALUE,
                    )
            self.mandatory(
                header.originator_identification, line, record, "originator identification"
            )
        else:
            self.mandatory(header.company_name, line, record, "company name")
            self.text(header.company_discretionary_data, line, record, "company discretionary data")
            self.mandatory(header.company_identification, line, record, "company identification")
            self.text(header.company_descriptive_date, line, record, "company descriptive date")

    # -- entries -----------------------------------------------------------------------

    def routing_ok(self, rdfi: str, check_digit: str) -> bool:
        if not (len(rdfi) == 8 and rdfi.isdecimal() and rdfi.isascii()):
            return False
        if self.options.allow_invalid_check_digit:
            return len(check_digit) == 1 and check_digit.isdecimal()
        return check_digit == DIGITS[routing_check_digit(rdfi)]

    def routing(self, entry: AnyEntry, record: str) -> None:
        line = entry.line
        if not self.digits(entry.rdfi_identification, 8, line, record, "RDFI identification"):
            return
        if not self.digits(entry.check_digit, 1, line, record, "check digit"):
            return
        expected = routing_check_digit(entry.rdfi_identification)
        if not self.options.allow_invalid_check_digit and int(entry.check_digit) != expected:
            self.add(
                line,
                record,
                "check digit",
                f"{expected} for RDFI {entry.rdfi_identification}",
                entry.check_digit,
                ErrorKind.CHECK_DIGIT,
            )

    def batch(self, batch: Batch) -> AnyBatchControl:
        """Check the batch; returns the control its entries call for."""
        header = batch.header
        self.batch_header(header)
        sec = header.standard_entry_class_code
        odfi = header.odfi_identification
        service_class = header.service_class_code
        previous_trace = ""
        previous_line = 0
        custom_traces = self.options.custom_trace_numbers
        record = "entry detail"
        for entry in batch.entries:
            line = entry.line
            if isinstance(entry, EntryDetail):
                self.entry(entry, sec)
            elif isinstance(entry, IatEntryDetail):
                self.iat_entry(entry)
            else:
                self.adv_entry(entry)
            # Direction against the service class code.
            if service_class == CREDITS_ONLY and is_debit(entry):
                self.add(
                    line,
                    record,
                    "transaction code",
                    "a credit (service class 220: credits only)",
                    f"debit code {entry.transaction_code}",
                    ErrorKind.SERVICE_CLASS,
                )
            elif service_class == DEBITS_ONLY and is_credit(entry):
                self.add(
                    line,
                    record,
                    "transaction code",
                    "a debit (service class 225: debits only)",
                    f"credit code {entry.transaction_code}",
                    ErrorKind.SERVICE_CLASS,
                )
            # Trace numbers: the ODFI's routing number, then an ascending sequence.
            trace = entry.trace_number if not isinstance(entry, AdvEntryDetail) else ""
            if trace and not custom_traces:
                if not (len(trace) == 15 and trace.isdecimal() and trace.isascii()):
                    self.add(
                        line,
                        record,
                        "trace number",
                        "15 digits",
                        repr(trace),
                        ErrorKind.NOT_NUMERIC,
                    )
                elif trace[:8] != odfi:
                    self.add(
                        line,
                        record,
                        "trace number",
                        f"to start with the ODFI identification {odfi}",
                        trace,
                        ErrorKind.TRACE_NUMBER,
                    )
                elif previous_trace and trace <= previous_trace:
                    self.add(
                        line,
                        record,
                        "trace number",
                        f"greater than {previous_trace} (line {previous_line})",
                        trace,
                        ErrorKind.TRACE_NUMBER,
                    )
                previous_trace, previous_line = trace, line
            self.addenda(entry, sec)
        expected = batch_control_for(batch)
        self.batch_control(batch, expected)
        return expected

    def entry(self, entry: EntryDetail, sec: str) -> None:
        line, record = entry.line, "entry detail"
        code = entry.transaction_code
        allowed = RETURN_OR_NOC_TRANSACTION_CODES if sec == COR else ENTRY_TRANSACTION_CODES
        # The common case of a large file, checked in a few C-level calls; only an
        # entry that fails it goes through the field-by-field checks that name the field.
        free_text = (
            entry.dfi_account_number
            + entry.identification_number
            + entry.individual_name
            + entry.discretionary_data
        )
        if (
            code in allowed
            and self.routing_ok(entry.rdfi_identification, entry.check_digit)
            and 0 <= entry.amount <= MAX_ENTRY_AMOUNT
            and (entry.amount == 0 or code not in ZERO_AMOUNT_TRANSACTION_CODES)
            and sec not in SEC_CODES_WITH_ENTRY_RULES
            and free_text.isascii()
            and free_text.isprintable()
            and entry.dfi_account_number.strip(" 0")
        ):
            return
        self.one_of(
            code,
            allowed,
            line,
            record,
            "transaction code",
            "a NACHA transaction code"
            if sec != COR
            else "a return/NOC code (21, 26, 31, 36, 41, 46, 51, 56)",
        )
        self.routing(entry, record)
        self.mandatory(entry.dfi_account_number, line, record, "DFI account number")
        self.amount(entry.amount, MAX_ENTRY_AMOUNT, line, record)
        if entry.amount and (code in ZERO_AMOUNT_TRANSACTION_CODES or sec == COR):
            self.add(
                line,
                record,
                "amount",
                "0 (NOC entry)"
                if sec == COR
                else f"0 (transaction code {code} is a prenote or zero-dollar entry)",
                str(entry.amount),
                ErrorKind.PRENOTE_AMOUNT,
            )
        self.text(entry.identification_number, line, record, "identification number")
        if sec in INDIVIDUAL_NAME_REQUIRED and not self.options.allow_empty_individual_name:
            self.mandatory(entry.individual_name, line, record, "individual name")
        else:
            self.text(entry.individual_name, line, record, "individual name")
        self.text(entry.discretionary_data, line, record, "discretionary data")
        if sec == "SHR":
            # SHR: columns 40-43 are the card expiration date, MMYY.
            month = entry.identification_number[:2]
            if not (_is_digits(month, 2) and 1 <= int(month) <= 12):
                self.add(
                    line,
                    record,
                    "card expiration date",
                    "a month 01-12 (MMYY)",
                    repr(entry.identification_number[:4]),
                    ErrorKind.INVALID_VALUE,
                )
        if sec == "CTX":
            # CTX: columns 55-58 of the entry count its addenda records.
            declared = entry.individual_name[:4]
            count = sum(isinstance(addenda, Addenda05) for addenda in entry.addenda)
            if not _is_digits(declared, 4) or int(declared) != count:
                self.add(
                    line,
                    record,
                    "number of addenda records",
                    f"{count:04d}",
                    repr(declared),
                    ErrorKind.ADDENDA,
                )

    def iat_entry(self, entry: IatEntryDetail) -> None:
        line, record = entry.line, "entry detail"
        self.one_of(
            entry.transaction_code,
            ENTRY_TRANSACTION_CODES,
            line,
            record,
            "transaction code",
            "a NACHA transaction code",
        )
        self.routing(entry, record)
        self.amount(entry.amount, MAX_ENTRY_AMOUNT, line, record)
        self.mandatory(entry.dfi_account_number, line, record, "foreign receiver's account")
        self.text(entry.ofac_screening_indicator, line, record, "OFAC screening indicator")
        self.text(
            entry.secondary_ofac_screening_indicator,
            line,
            record,
            "secondary OFAC screening indicator",
        )
        # The entry's "number of addenda records" is not compared with the addenda:
        # producers (moov-io/ach among them) write 0007, the mandatory ones, even when
        # optional 17s and 18s follow.

    def adv_entry(self, entry: AdvEntryDetail) -> None:
        line, record = entry.line, "entry detail"
        self.one_of(
            entry.transaction_code,
            ADV_TRANSACTION_CODES,
            line,
            record,
            "transaction code",
            "an ADV code 81-88",
        )
        self.routing(entry, record)
        self.amount(entry.amount, MAX_ADV_AMOUNT, line, record)
        self.mandatory(entry.dfi_account_number, line, record, "DFI account number")
        self.text(entry.individual_name, line, record, "individual name")
        if not is_routing_number(entry.advice_routing_number):
            self.add(
                line,
                record,
                "advice routing number",
                "a 9-digit routing number",
                repr(entry.advice_routing_number),
                ErrorKind.CHECK_DIGIT,
            )

    def amount(self, amount: int, maximum: int, line: int, record: str) -> None:
        if not 0 <= amount <= maximum:
            self.add(
                line,
                record,
                "amount",
                f"0 to {maximum} cents",
                str(amount),
                ErrorKind.INVALID_VALUE,
            )

    # -- addenda -----------------------------------------------------------------------

    def addenda(self, entry: AnyEntry, sec: str) -> None:
        addenda = entry.addenda
        indicator = entry.addenda_record_indicator
        if not addenda and indicator == 0 and sec != COR and not isinstance(entry, IatEntryDetail):
            return  # the common case: no addenda, and none announced
        line = entry.line
        record = "entry detail"
        if isinstance(entry, IatEntryDetail):
            if indicator != 1:
                self.add(
                    line,
                    record,
                    "addenda record indicator",
                    "1 (IAT entries always carry addenda)",
                    str(indicator),
                    ErrorKind.ADDENDA,
                )
        elif indicator not in (0, 1):
            self.add(
                line,
                record,
                "addenda record indicator",
                "0 or 1",
                str(indicator),
                ErrorKind.INVALID_VALUE,
            )
        elif (indicator == 1) != bool(addenda):
            self.add(
                line,
                record,
                "addenda record indicator",
                f"{int(bool(addenda))} ({len(addenda)} addenda follow)",
                str(indicator),
                ErrorKind.ADDENDA,
            )
        trace = "" if isinstance(entry, AdvEntryDetail) else entry.trace_number
        sequence = (
            int(trace[-SEQUENCE_DIGITS:])
            if _is_digits(trace[-SEQUENCE_DIGITS:], SEQUENCE_DIGITS)
            else None
        )
        returns = [a for a in addenda if isinstance(a, Addenda99)]
        changes = [a for a in addenda if isinstance(a, Addenda98)]
        for returned in returns:
            self.addenda99(returned)
        for change in changes:
            self.addenda98(change)
        if isinstance(entry, IatEntryDetail):
            self.iat_addenda(entry, bool(returns or changes))
            return
        if isinstance(entry, AdvEntryDetail):
            for item in addenda:
                if not isinstance(item, Addenda99):
                    self.add(
                        item.line,
                        "addenda",
                        "addenda type code",
                        "99 (ADV entries take only return addenda)",
                        self.type_code(item),
                        ErrorKind.ADDENDA,
                    )
            return
        if sec == COR:
            if len(changes) != 1 or len(addenda) != 1:
                self.add(
                    line,
                    record,
                    "addenda",
                    "exactly one addenda 98 (a COR entry is a notification of change)",
                    f"{len(addenda)} addenda, {len(changes)} of type 98",
                    ErrorKind.ADDENDA,
                )
            return
        if returns:
            # A return carries addenda 99 only: the return, and when it is dishonored
            # and then contested, one addenda 99 for each of those steps.
            kinds = [return_kind(returned.return_reason_code) for returned in returns]
            if len(returns) != len(addenda) or len(set(kinds)) != len(kinds):
                self.add(
                    line,
                    record,
                    "addenda",
                    "addenda 99 only: one return, at most one dishonor and one contest",
                    ", ".join(self.type_code(item) for item in addenda),
                    ErrorKind.ADDENDA,
                )
            return
        for change in changes:
            self.add(
                change.line,
                "addenda 98",
                "addenda type code",
                "an addenda 98 only in a COR batch",
                f"in a {sec} batch",
                ErrorKind.ADDENDA,
            )
        count05 = 0
        for item in addenda:
            if isinstance(item, Addenda05):
                count05 += 1
                self.text(
                    item.payment_related_information,
                    item.line,
                    "addenda 05",
                    "payment related information",
                )
                self.equal(
                    count05,
                    item.addenda_sequence_number,
                    item.line,
                    "addenda 05",
                    "addenda sequence number",
                    ErrorKind.ADDENDA,
                )
                if sequence is not None:
                    self.equal(
                        sequence,
                        item.entry_detail_sequence_number,
                        item.line,
                        "addenda 05",
                        "entry detail sequence number",
                        ErrorKind.ADDENDA,
                    )
            elif isinstance(item, OtherAddenda):
                if item.type_code == "02" and sec in ADDENDA_02_SEC_CODES:
                    self.text(item.content, item.line, "addenda 02", "terminal information")
                    if sum(isinstance(a, OtherAddenda) for a in addenda) > 1:
                        self.add(
                            item.line,
                            "addenda 02",
                            "addenda type code",
                            "at most one addenda 02",
                            "several",
                            ErrorKind.ADDENDA,
                        )
                else:
                    self.add(
                        item.line,
                        "addenda",
                        "addenda type code",
                        f"an addenda type a {sec} entry may carry",
                        repr(item.type_code),
                        ErrorKind.ADDENDA,
                    )
        limit = MAX_ADDENDA_05.get(sec)
        if limit is not None and count05 > limit:
            self.add(
                line,
                record,
                "addenda",
                f"at most {limit} addenda 05 for {sec}",
                f"{count05}",
                ErrorKind.ADDENDA,
            )

    @staticmethod
    def type_code(item: object) -> str:
        if isinstance(item, Addenda05):
            return "05"
        if isinstance(item, Addenda98):
            return "98"
        if isinstance(item, OtherAddenda):
            return item.type_code
        return "99"

    def addenda98(self, item: Addenda98) -> None:
        line, record = item.line, "addenda 98"
        self.one_of(
            item.change_code,
            CHANGE_CODES,
            line,
            record,
            "change code",
            "a NACHA change code (C01-C14, C61-C69)",
        )
        self.digits(item.original_trace_number, 15, line, record, "original entry trace number")
        self.digits(
            item.original_rdfi_identification, 8, line, record, "original RDFI identification"
        )
        self.mandatory(item.corrected_data, line, record, "corrected data")
        self.text(item.trace_number, line, record, "trace number")

    def addenda99(self, item: Addenda99) -> None:
        line, record = item.line, "addenda 99"
        if self.options.custom_return_codes:
            self.mandatory(item.return_reason_code, line, record, "return reason code")
        else:
            self.one_of(
                item.return_reason_code,
                RETURN_REASON_CODES,
                line,
                record,
                "return reason code",
                "a NACHA return reason code (R01-R85)",
            )
        self.digits(item.original_trace_number, 15, line, record, "original entry trace number")
        self.text(item.date_of_death, line, record, "date of death")
        self.digits(
            item.original_rdfi_identification, 8, line, record, "original RDFI identification"
        )
        self.text(item.addenda_information, line, record, "addenda information")
        self.text(item.trace_number, line, record, "trace number")

    def iat_addenda(self, entry: IatEntryDetail, is_return_or_noc: bool) -> None:
        codes = [self.type_code(item) for item in entry.addenda]
        others = [item for item in entry.addenda if isinstance(item, OtherAddenda)]
        mandatory = tuple(code for code in codes if code in IAT_MANDATORY_ADDENDA)
        if mandatory != IAT_MANDATORY_ADDENDA:
            self.add(
                entry.line,
                "entry detail",
                "addenda",
                "addenda 10, 11, 12, 13, 14, 15 and 16, once each and in order",
                ", ".join(codes) or "none",
                ErrorKind.ADDENDA,
            )
        if codes.count("17") > IAT_MAX_ADDENDA_17 or codes.count("18") > IAT_MAX_ADDENDA_18:
            self.add(
                entry.line,
                "entry detail",
                "addenda",
                f"at most {IAT_MAX_ADDENDA_17} addenda 17 and {IAT_MAX_ADDENDA_18} addenda 18",
                ", ".join(codes),
                ErrorKind.ADDENDA,
            )
        if not is_return_or_noc and any(code in ("05", "98", "99") for code in codes):
            self.add(
                entry.line,
                "entry detail",
                "addenda",
                "IAT addenda 10-18",
                ", ".join(codes),
                ErrorKind.ADDENDA,
            )
        sequence = entry.trace_number[-SEQUENCE_DIGITS:]
        for item in others:
            record = f"addenda {item.type_code}"
            if item.type_code not in (*IAT_MANDATORY_ADDENDA, "17", "18"):
                self.add(
                    item.line,
                    record,
                    "addenda type code",
                    "10-18 in an IAT entry",
                    repr(item.type_code),
                    ErrorKind.ADDENDA,
                )
                continue
            content = item.content.ljust(91)
            self.text(content, item.line, record, "content")
            if item.type_code == "10":
                self.one_of(
                    content[:3],
                    IAT_TRANSACTION_TYPE_CODES,
                    item.line,
                    record,
                    "transaction type code",
                    "an IAT transaction type code",
                )
            if content[-SEQUENCE_DIGITS:] != sequence:
                self.add(
                    item.line,
                    record,
                    "entry detail sequence number",
                    sequence,
                    repr(content[-SEQUENCE_DIGITS:]),
                    ErrorKind.ADDENDA,
                )

    # -- controls ----------------------------------------------------------------------

    def batch_control(self, batch: Batch, expected: AnyBatchControl) -> None:
        control = batch.control
        if control is None:
            return  # the reader reported the missing record
        header = batch.header
        line, record = control.line, "batch control"
        mismatch = ErrorKind.HEADER_CONTROL_MISMATCH
        self.equal(
            header.service_class_code,
            control.service_class_code,
            line,
            record,
            "service class code",
            mismatch,
        )
        self.equal(
            header.odfi_identification,
            control.odfi_identification,
            line,
            record,
            "ODFI identification",
            mismatch,
        )
        self.equal(
            header.batch_number, control.batch_number, line, record, "batch number", mismatch
        )
        if isinstance(control, BatchControl) and isinstance(header, BatchHeader):
            # Compared without blanks, as producers justify it differently in the two
            # records. IAT batch controls leave it blank.
            self.equal(
                header.company_identification.strip(),
                control.company_identification.strip(),
                line,
                record,
                "company identification",
                mismatch,
            )
            self.text(
                control.message_authentication_code, line, record, "message authentication code"
            )
        total = ErrorKind.CONTROL_TOTAL
        self.equal(
            expected.entry_addenda_count,
            control.entry_addenda_count,
            line,
            record,
            "entry/addenda count",
            total,
        )
        self.equal(expected.entry_hash, control.entry_hash, line, record, "entry hash", total)
        self.equal(expected.total_debit, control.total_debit, line, record, "total debit", total)
        self.equal(expected.total_credit, control.total_credit, line, record, "total credit", total)

    def file_control(self, ach_file: AchFile, batch_controls: list[AnyBatchControl]) -> None:
        control = ach_file.control
        if control is None:
            return  # the reader reported the missing record
        line, record = control.line, "file control"
        expected = file_control_from(ach_file, batch_controls)
        if not ach_file.batches:
            self.add(
                line, record, "batch count", "at least one batch", "0", ErrorKind.MANDATORY_FIELD
            )
        if isinstance(control, AdvFileControl) != isinstance(expected, AdvFileControl):
            self.add(
                line,
                record,
                "layout",
                "the ADV layout" if isinstance(expected, AdvFileControl) else "the standard layout",
                "the other",
                ErrorKind.INVALID_VALUE,
            )
        total = ErrorKind.CONTROL_TOTAL
        for field, want, have in (
            ("batch count", expected.batch_count, control.batch_count),
            ("block count", expected.block_count, control.block_count),
            ("entry/addenda count", expected.entry_addenda_count, control.entry_addenda_count),
            ("entry hash", expected.entry_hash, control.entry_hash),
            ("total debit", expected.total_debit, control.total_debit),
            ("total credit", expected.total_credit, control.total_credit),
        ):
            self.equal(want, have, line, record, field, total)


def validate_ach(
    ach_file: AchFile, options: ValidationOptions | None = None
) -> list[ValidationError]:
    """Every problem the strict rules find in ``ach_file``, in file order (empty: valid)."""
    checker = _Checker(options or ValidationOptions())
    if ach_file.header is not None:
        checker.file_header(ach_file.header)
    batch_controls = [checker.batch(batch) for batch in ach_file.batches]
    checker.file_control(ach_file, batch_controls)
    return checker.errors
