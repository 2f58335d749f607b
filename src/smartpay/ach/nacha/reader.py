"""Reading NACHA text into an :class:`AchFile`, leniently in the way moov-io/ach reads.

What the reader forgives (each is undone by the writer; see ``smartpay.ach.nacha``):

* CRLF line ends; a missing final newline; blank lines.
* A line shorter than 94 characters: right-padded with blanks (producers strip them).
* A line longer than 94 characters whose extra characters are blanks: trimmed.
* A file with no newlines at all: one line of 94-character records, split apart.

What it reports (as :class:`ValidationError`, never by raising): a line that cannot be
made 94 characters, an unknown record type, a record out of place, a missing header or
control record, a record after the file control, and a numeric field that is not digits
(read as 0). Everything else about the content is the validator's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from smartpay.ach.nacha.errors import ErrorKind, ValidationError
from smartpay.ach.nacha.records import (
    ADV,
    IAT,
    IAT_COR_INDICATOR,
    PADDING_RECORD,
    RECORD_LENGTH,
    AchFile,
    Addenda,
    Addenda05,
    Addenda98,
    Addenda99,
    AdvBatchControl,
    AdvEntryDetail,
    AdvFileControl,
    AnyEntry,
    Batch,
    BatchControl,
    BatchHeader,
    EntryDetail,
    FileControl,
    FileHeader,
    IatBatchHeader,
    IatEntryDetail,
    OtherAddenda,
)

RECORD_NAMES = {
    "1": "file header",
    "5": "batch header",
    "6": "entry detail",
    "7": "addenda",
    "8": "batch control",
    "9": "file control",
}


@dataclass(slots=True)
class ReadResult:
    """The file as far as it could be read, and the problems met while reading it."""

    file: AchFile
    errors: list[ValidationError] = field(default_factory=list)


def decode(data: bytes) -> str:
    """NACHA files are ASCII. UTF-8 is tried next (moov-io/ach counts characters as
    UTF-8), then Latin-1, which maps every byte to one character, so nothing fails to
    decode and the validator can point at the offending character."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def split_records(text: str) -> tuple[list[tuple[int, str]], list[ValidationError]]:
    """The 94-character records of ``text`` with their line numbers, after the lenient
    repairs listed in the module docstring."""
    problems: list[ValidationError] = []
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    records: list[tuple[int, str]] = []
    first = 0
    # Lines after a split first line are numbered after its records.
    line_offset = 1
    if lines and len(lines[0]) > RECORD_LENGTH:
        head = lines[0]
        if len(head.rstrip(" ")) > RECORD_LENGTH:
            first = 1
            if len(head) % RECORD_LENGTH == 0:
                # A file of fixed-width records with no newlines between them.
                line_offset = len(head) // RECORD_LENGTH
                records.extend(
                    (index // RECORD_LENGTH + 1, head[index : index + RECORD_LENGTH])
                    for index in range(0, len(head), RECORD_LENGTH)
                )
            else:
                problems.append(
                    ValidationError(
                        line=1,
                        record="file",
                        field="record length",
                        expected=f"a multiple of {RECORD_LENGTH} characters on one line",
                        found=f"{len(head)} characters ({len(head) % RECORD_LENGTH} extra)",
                        kind=ErrorKind.RECORD_LENGTH,
                    )
                )
    for index in range(first, len(lines)):
        text_line = lines[index]
        length = len(text_line)
        if length == RECORD_LENGTH:
            records.append((index + line_offset, text_line))
            continue
        if length > RECORD_LENGTH:
            if text_line[RECORD_LENGTH:].strip(" "):
                problems.append(
                    ValidationError(
                        line=index + line_offset,
                        record=RECORD_NAMES.get(text_line[0], "record"),
                        field="record length",
                        expected=f"{RECORD_LENGTH} characters",
                        found=f"{length} characters",
                        kind=ErrorKind.RECORD_LENGTH,
                    )
                )
                continue
            records.append((index + line_offset, text_line[:RECORD_LENGTH]))
        elif text_line.strip(" "):
            records.append((index + line_offset, text_line.ljust(RECORD_LENGTH)))
        # A blank line carries no record.
    return records, problems


class _FileReader:
    """The state of one read: what is open (batch, entry) and what has been seen."""

    def __init__(self) -> None:
        self.errors: list[ValidationError] = []
        self.header: FileHeader | None = None
        self.batches: list[Batch] = []
        self.batch: Batch | None = None
        self.entry: AnyEntry | None = None
        self.control: FileControl | AdvFileControl | None = None
        self.records_seen = 0
        self.padding_line: int | None = None
        self.empty_control_seen = False

    def problem(
        self, line: int, record: str, field: str, expected: str, found: str, kind: ErrorKind
    ) -> None:
        self.errors.append(ValidationError(line, record, field, expected, found, kind))

    def number(self, text: str, line: int, record: str, field: str) -> int:
        """A numeric field; one that is not digits is reported and read as 0."""
        if text.isdecimal() and text.isascii():
            return int(text)
        self.problem(line, record, field, f"{len(text)} digits", repr(text), ErrorKind.NOT_NUMERIC)
        return 0

    # -- the state machine -------------------------------------------------------------

    def read(self, records: list[tuple[int, str]]) -> AchFile:
        for line, text in records:
            if text == PADDING_RECORD:
                if self.padding_line is None:
                    self.padding_line = line
                continue
            record_type = text[0]
            if self.control is not None:
                self.problem(
                    line,
                    RECORD_NAMES.get(record_type, "record"),
                    "record type",
                    "only 9-filled padding after the file control",
                    repr(text[:1]),
                    ErrorKind.RECORD_AFTER_FILE_CONTROL,
                )
                continue
            if self.padding_line is not None:
                self.problem(
                    self.padding_line,
                    "padding",
                    "record type",
                    "9-filled padding only after the file control",
                    "padding before a record",
                    ErrorKind.MISPLACED_RECORD,
                )
                self.padding_line = None
            if record_type == "6":
                self.read_entry(line, text)
            elif record_type == "7":
                self.read_addenda(line, text)
            elif record_type == "5":
                self.read_batch_header(line, text)
            elif record_type == "8":
                self.read_batch_control(line, text)
            elif record_type == "1":
                self.read_file_header(line, text)
            elif record_type == "9":
                self.read_file_control(line, text)
            else:
                self.problem(
                    line,
                    "record",
                    "record type",
                    "1, 5, 6, 7, 8 or 9",
                    repr(record_type),
                    ErrorKind.UNKNOWN_RECORD_TYPE,
                )
            self.records_seen += 1
        if self.batch is not None:
            self.close_batch_without_control(None)
        if self.header is None:
            self.problem_file("file header", "a file header record (type 1) first")
        if self.control is None and not self.empty_control_seen:
            self.problem_file("file control", "a file control record (type 9) last")
        return AchFile(header=self.header, batches=self.batches, control=self.control)

    def problem_file(self, record: str, expected: str) -> None:
        self.errors.append(
            ValidationError(None, record, "record", expected, "none", ErrorKind.MISSING_RECORD)
        )

    def close_batch_without_control(self, line: int | None) -> None:
        assert self.batch is not None
        self.errors.append(
            ValidationError(
                line if line is not None else None,
                "batch control",
                "record",
                f"a batch control (type 8) closing the batch at line {self.batch.header.line}",
                "none",
                ErrorKind.MISSING_RECORD,
            )
        )
        self.batches.append(self.batch)
        self.batch = None
        self.entry = None

    # -- one method per record type ----------------------------------------------------

    def read_file_header(self, line: int, text: str) -> None:
        if self.header is not None or self.records_seen:
            self.problem(
                line,
                "file header",
                "record type",
                "the file header as the first and only type 1 record",
                "a file header after other records"
                if self.header is None
                else f"a second file header (first at line {self.header.line})",
                ErrorKind.MISPLACED_RECORD,
            )
            if self.header is not None:
                return
        self.header = FileHeader(
            priority_code=text[1:3].rstrip(),
            immediate_destination=text[3:13].rstrip(),
            immediate_origin=text[13:23].rstrip(),
            file_creation_date=text[23:29].rstrip(),
            file_creation_time=text[29:33].rstrip(),
            file_id_modifier=text[33:34].rstrip(),
            record_size=text[34:37].rstrip(),
            blocking_factor=text[37:39].rstrip(),
            format_code=text[39:40].rstrip(),
            immediate_destination_name=text[40:63].rstrip(),
            immediate_origin_name=text[63:86].rstrip(),
            reference_code=text[86:94].rstrip(),
            line=line,
        )

    def read_batch_header(self, line: int, text: str) -> None:
        if self.batch is not None:
            self.close_batch_without_control(line)
        record = "batch header"
        service_class_code = self.number(text[1:4], line, record, "service class code")
        batch_number = self.number(text[87:94], line, record, "batch number")
        header: BatchHeader | IatBatchHeader
        if text[50:53] == IAT or text[4:20].strip() == IAT_COR_INDICATOR:
            header = IatBatchHeader(
                service_class_code=service_class_code,
                iat_indicator=text[4:20].rstrip(),
                foreign_exchange_indicator=text[20:22].rstrip(),
                foreign_exchange_reference_indicator=text[22:23].rstrip(),
                foreign_exchange_reference=text[23:38].rstrip(),
                iso_destination_country_code=text[38:40].rstrip(),
                originator_identification=text[40:50].rstrip(),
                standard_entry_class_code=text[50:53].rstrip(),
                company_entry_description=text[53:63].rstrip(),
                iso_originating_currency_code=text[63:66].rstrip(),
                iso_destination_currency_code=text[66:69].rstrip(),
                effective_entry_date=text[69:75].rstrip(),
                settlement_date=text[75:78].rstrip(),
                originator_status_code=text[78:79].rstrip(),
                odfi_identification=text[79:87].rstrip(),
                batch_number=batch_number,
                line=line,
            )
        else:
            header = BatchHeader(
                service_class_code=service_class_code,
                company_name=text[4:20].rstrip(),
                company_discretionary_data=text[20:40].rstrip(),
                company_identification=text[40:50].rstrip(),
                standard_entry_class_code=text[50:53].rstrip(),
                company_entry_description=text[53:63].rstrip(),
                company_descriptive_date=text[63:69].rstrip(),
                effective_entry_date=text[69:75].rstrip(),
                settlement_date=text[75:78].rstrip(),
                originator_status_code=text[78:79].rstrip(),
                odfi_identification=text[79:87].rstrip(),
                batch_number=batch_number,
                line=line,
            )
        self.batch = Batch(header=header)
        self.entry = None

    def read_entry(self, line: int, text: str) -> None:
        batch = self.batch
        if batch is None:
            self.problem(
                line,
                "entry detail",
                "record type",
                "entries inside a batch (after a batch header)",
                "an entry outside any batch",
                ErrorKind.MISPLACED_RECORD,
            )
            return
        # The hot path of a large file: plain slices, digits checked inline.
        code = text[1:3]
        amount_text = text[29:39]
        indicator = text[78:79]
        entry: AnyEntry
        header = batch.header
        if isinstance(header, IatBatchHeader):
            count = text[12:16]
            entry = IatEntryDetail(
                transaction_code=int(code)
                if code.isdecimal() and code.isascii()
                else self.number(code, line, "entry detail", "transaction code"),
                rdfi_identification=text[3:11].rstrip(),
                check_digit=text[11:12].rstrip(),
                addenda_records=int(count)
                if count.isdecimal() and count.isascii()
                else self.number(count, line, "entry detail", "number of addenda records"),
                reserved=text[16:29].rstrip(),
                amount=int(amount_text)
                if amount_text.isdecimal() and amount_text.isascii()
                else self.number(amount_text, line, "entry detail", "amount"),
                dfi_account_number=text[39:74].rstrip(),
                reserved_after_account=text[74:76].rstrip(),
                ofac_screening_indicator=text[76:77].rstrip(),
                secondary_ofac_screening_indicator=text[77:78].rstrip(),
                addenda_record_indicator=int(indicator)
                if indicator.isdecimal() and indicator.isascii()
                else self.number(indicator, line, "entry detail", "addenda record indicator"),
                trace_number=text[79:94].rstrip(),
                line=line,
            )
        elif header.standard_entry_class_code == ADV:
            amount_text = text[27:39]
            entry = AdvEntryDetail(
                transaction_code=self.number(code, line, "entry detail", "transaction code"),
                rdfi_identification=text[3:11].rstrip(),
                check_digit=text[11:12].rstrip(),
                dfi_account_number=text[12:27].rstrip(),
                amount=self.number(amount_text, line, "entry detail", "amount"),
                advice_routing_number=text[39:48].rstrip(),
                file_identification=text[48:53].rstrip(),
                ach_operator_data=text[53:54].rstrip(),
                individual_name=text[54:76].rstrip(),
                discretionary_data=text[76:78].rstrip(),
                addenda_record_indicator=self.number(
                    indicator, line, "entry detail", "addenda record indicator"
                ),
                ach_operator_routing_number=text[79:87].rstrip(),
                julian_day=text[87:90].rstrip(),
                sequence_number=text[90:94].rstrip(),
                line=line,
            )
        else:
            entry = EntryDetail(
                int(code)
                if code.isdecimal() and code.isascii()
                else self.number(code, line, "entry detail", "transaction code"),
                text[3:11].rstrip(),
                text[11:12].rstrip(),
                text[12:29].rstrip(),
                int(amount_text)
                if amount_text.isdecimal() and amount_text.isascii()
                else self.number(amount_text, line, "entry detail", "amount"),
                text[39:54].rstrip(),
                text[54:76].rstrip(),
                text[79:94].rstrip(),
                text[76:78].rstrip(),
                int(indicator)
                if indicator.isdecimal() and indicator.isascii()
                else self.number(indicator, line, "entry detail", "addenda record indicator"),
                [],
                line,
            )
        batch.entries.append(entry)
        self.entry = entry

    def read_addenda(self, line: int, text: str) -> None:
        if self.batch is None or self.entry is None:
            self.problem(
                line,
                "addenda",
                "record type",
                "an addenda right after its entry detail or another addenda",
                "an addenda outside any batch" if self.batch is None else "no entry before it",
                ErrorKind.MISPLACED_RECORD,
            )
            return
        type_code = text[1:3]
        addenda: Addenda
        if type_code == "05":
            record = "addenda 05"
            addenda = Addenda05(
                payment_related_information=text[3:83].rstrip(),
                addenda_sequence_number=self.number(
                    text[83:87], line, record, "addenda sequence number"
                ),
                entry_detail_sequence_number=self.number(
                    text[87:94], line, record, "entry detail sequence number"
                ),
                line=line,
            )
        elif type_code == "98":
            addenda = Addenda98(
                change_code=text[3:6].rstrip(),
                original_trace_number=text[6:21].rstrip(),
                reserved=text[21:27].rstrip(),
                original_rdfi_identification=text[27:35].rstrip(),
                corrected_data=text[35:64].rstrip(),
                reserved_after_corrected_data=text[64:79].rstrip(),
                trace_number=text[79:94].rstrip(),
                line=line,
            )
        elif type_code == "99":
            addenda = Addenda99(
                return_reason_code=text[3:6].rstrip(),
                original_trace_number=text[6:21].rstrip(),
                date_of_death=text[21:27].rstrip(),
                original_rdfi_identification=text[27:35].rstrip(),
                addenda_information=text[35:79].rstrip(),
                trace_number=text[79:94].rstrip(),
                line=line,
            )
        else:
            addenda = OtherAddenda(type_code=type_code, content=text[3:94].rstrip(), line=line)
        self.entry.addenda.append(addenda)

    def read_batch_control(self, line: int, text: str) -> None:
        batch = self.batch
        record = "batch control"
        if batch is None:
            self.problem(
                line,
                record,
                "record type",
                "a batch control closing an open batch",
                "a batch control outside any batch",
                ErrorKind.MISPLACED_RECORD,
            )
            return
        number = self.number
        if batch.is_adv and not batch.is_iat:
            batch.control = AdvBatchControl(
                service_class_code=number(text[1:4], line, record, "service class code"),
                entry_addenda_count=number(text[4:10], line, record, "entry/addenda count"),
                entry_hash=number(text[10:20], line, record, "entry hash"),
                total_debit=number(text[20:40], line, record, "total debit"),
                total_credit=number(text[40:60], line, record, "total credit"),
                ach_operator_data=text[60:79].rstrip(),
                odfi_identification=text[79:87].rstrip(),
                batch_number=number(text[87:94], line, record, "batch number"),
                line=line,
            )
        else:
            batch.control = BatchControl(
                service_class_code=number(text[1:4], line, record, "service class code"),
                entry_addenda_count=number(text[4:10], line, record, "entry/addenda count"),
                entry_hash=number(text[10:20], line, record, "entry hash"),
                total_debit=number(text[20:32], line, record, "total debit"),
                total_credit=number(text[32:44], line, record, "total credit"),
                company_identification=text[44:54].rstrip(),
                message_authentication_code=text[54:73].rstrip(),
                reserved=text[73:79].rstrip(),
                odfi_identification=text[79:87].rstrip(),
                batch_number=number(text[87:94], line, record, "batch number"),
                line=line,
            )
        self.batches.append(batch)
        self.batch = None
        self.entry = None

    def read_file_control(self, line: int, text: str) -> None:
        if self.batch is not None:
            self.close_batch_without_control(line)
        if not text[1:].strip():
            # A bare "9" (its blanks stripped by a producer) carries no control at all.
            self.problem(
                line,
                "file control",
                "record",
                "a file control record (type 9) with its counts and totals",
                "an empty type 9 record",
                ErrorKind.MISSING_RECORD,
            )
            self.empty_control_seen = True
            return
        record = "file control"
        number = self.number
        adv = bool(self.batches) and all(batch.is_adv for batch in self.batches)
        if adv:
            self.control = AdvFileControl(
                batch_count=number(text[1:7], line, record, "batch count"),
                block_count=number(text[7:13], line, record, "block count"),
                entry_addenda_count=number(text[13:21], line, record, "entry/addenda count"),
                entry_hash=number(text[21:31], line, record, "entry hash"),
                total_debit=number(text[31:51], line, record, "total debit"),
                total_credit=number(text[51:71], line, record, "total credit"),
                reserved=text[71:94].rstrip(),
                line=line,
            )
        else:
            self.control = FileControl(
                batch_count=number(text[1:7], line, record, "batch count"),
                block_count=number(text[7:13], line, record, "block count"),
                entry_addenda_count=number(text[13:21], line, record, "entry/addenda count"),
                entry_hash=number(text[21:31], line, record, "entry hash"),
                total_debit=number(text[31:43], line, record, "total debit"),
                total_credit=number(text[43:55], line, record, "total credit"),
                reserved=text[55:94].rstrip(),
                line=line,
            )


def read_ach(data: bytes | str) -> ReadResult:
    """Read a NACHA file. Never raises for bad content: problems are in ``errors``."""
    text = decode(data) if isinstance(data, bytes) else data
    records, problems = split_records(text)
    reader = _FileReader()
    reader.errors.extend(problems)
    ach_file = reader.read(records)
    return ReadResult(file=ach_file, errors=reader.errors)
