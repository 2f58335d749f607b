"""What a NACHA problem looks like: which record, which field, what was expected, what was found.

The reader and the validator both report :class:`ValidationError` values; nothing in the
NACHA layer raises for a malformed file (a file with ten problems reports ten problems).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    """The family a problem belongs to, so callers (and tests) can match on it."""

    # Layout of the file itself.
    RECORD_LENGTH = "record_length"
    """A line is not 94 characters and cannot be repaired (extra non-blank characters)."""
    UNKNOWN_RECORD_TYPE = "unknown_record_type"
    """The first character of a line is not 1, 5, 6, 7, 8 or 9."""
    MISSING_RECORD = "missing_record"
    """A mandatory record is absent: file header, file control, batch header or control."""
    MISPLACED_RECORD = "misplaced_record"
    """A record appears where the file structure does not allow it."""
    RECORD_AFTER_FILE_CONTROL = "record_after_file_control"
    """A record other than 9-filled padding follows the file control."""

    # One field of one record.
    NOT_NUMERIC = "not_numeric"
    """A numeric field holds something other than ASCII digits."""
    NON_ALPHANUMERIC = "non_alphanumeric"
    """A text field holds a character outside printable ASCII."""
    MANDATORY_FIELD = "mandatory_field"
    """A mandatory field is blank or only zeros."""
    INVALID_VALUE = "invalid_value"
    """A field holds a value outside the set NACHA allows there."""
    CHECK_DIGIT = "check_digit"
    """A routing number's check digit does not match its first eight digits."""

    # Agreement between records.
    CONTROL_TOTAL = "control_total"
    """A count, hash or total in a control record disagrees with the records it controls."""
    HEADER_CONTROL_MISMATCH = "header_control_mismatch"
    """A batch control repeats a batch header field with a different value."""
    TRACE_NUMBER = "trace_number"
    """A trace number is out of order or does not start with the ODFI's routing number."""
    SERVICE_CLASS = "service_class"
    """An entry's debit/credit direction is not allowed by the batch's service class code."""
    PRENOTE_AMOUNT = "prenote_amount"
    """A prenotification or zero-dollar entry carries a non-zero amount."""
    ADDENDA = "addenda"
    """Addenda records disagree with the entry or the SEC code (count, type, indicator)."""


@dataclass(frozen=True, slots=True)
class ValidationError:
    """One problem in a NACHA file.

    ``line`` is the 1-based line of the record in the file as read (for a single-line
    file, the position of the 94-character record); it is ``None`` for problems of the
    file as a whole, such as a missing file control.
    """

    line: int | None
    record: str
    field: str
    expected: str
    found: str
    kind: ErrorKind

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        return f"{where}, {self.record}, {self.field}: expected {self.expected}, found {self.found}"
