"""NACHA (ACH) files: read leniently, write exactly, validate strictly.

    result = read_ach(path.read_bytes())          # ReadResult: file + reading problems
    problems = result.errors + validate_ach(result.file)
    text = write_ach(result.file)

``check_ach`` does the first two steps in one call.

Round trip. Writing a file that was read gives back its bytes, with this normalization
(and only this): line ends become ``\\n``, including after the last record; blank lines
are dropped; a short line is right-padded with blanks and a long line's trailing blanks
are cut, so every line is 94 characters; a file of records with no newlines is written
one record per line; and the 9-filled padding is regenerated to complete the last block
of ten (no more, no less). :func:`normalized` applies exactly this to a file's text.
"""

from __future__ import annotations

from smartpay.ach.nacha.errors import ErrorKind, ValidationError
from smartpay.ach.nacha.reader import ReadResult, decode, read_ach, split_records
from smartpay.ach.nacha.records import (
    BLOCKING_FACTOR,
    PADDING_RECORD,
    AchFile,
    Addenda05,
    Addenda98,
    Addenda99,
    Batch,
    BatchHeader,
    EntryDetail,
    FileHeader,
)
from smartpay.ach.nacha.validator import ValidationOptions, is_routing_number, validate_ach
from smartpay.ach.nacha.writer import fill_controls, write_ach


def check_ach(data: bytes | str, options: ValidationOptions | None = None) -> ReadResult:
    """Read and validate: the result's ``errors`` hold the reading problems followed by
    the validator's; empty means the file is valid."""
    result = read_ach(data)
    result.errors.extend(validate_ach(result.file, options))
    return result


def normalized(data: bytes | str) -> str:
    """The text :func:`write_ach` produces for a file read from ``data``, computed from
    the lines alone (see the module docstring); used to test the round trip."""
    text = decode(data) if isinstance(data, bytes) else data
    records, _ = split_records(text)
    lines = [record for _, record in records if record != PADDING_RECORD]
    lines.extend([PADDING_RECORD] * (-len(lines) % BLOCKING_FACTOR))
    return "\n".join(lines) + "\n"


__all__ = [
    "AchFile",
    "Addenda05",
    "Addenda98",
    "Addenda99",
    "Batch",
    "BatchHeader",
    "EntryDetail",
    "ErrorKind",
    "FileHeader",
    "ReadResult",
    "ValidationError",
    "ValidationOptions",
    "check_ach",
    "fill_controls",
    "is_routing_number",
    "normalized",
    "read_ach",
    "validate_ach",
    "write_ach",
]
