"""The moov-io/ach corpus (../shared/conformance/ach): every file is read and validated,
and ends the way MANIFEST.tsv says, for the reason it gives.

Where our verdict differs from the manifest, the row is listed in ``DEVIATIONS`` with the
evidence; those are the only exceptions.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import pytest

from smartpay.ach.nacha import (
    ErrorKind,
    ValidationError,
    ValidationOptions,
    check_ach,
    normalized,
    write_ach,
)

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "ach"


@dataclass(frozen=True)
class Row:
    path: str
    batches: int
    entries: int
    addenda: int
    expectation: str

    @property
    def data(self) -> bytes:
        raw = (CORPUS / self.path).read_bytes()
        return gzip.decompress(raw) if self.path.endswith(".gz") else raw

    @property
    def manifest_says_valid(self) -> bool:
        return self.expectation.startswith(
            ("VALID", "read by tests", "regression sample", "not referenced", "LENIENT")
        )

    @property
    def is_fuzz_crasher(self) -> bool:
        return self.expectation.startswith("FUZZ CRASHER")


def manifest_rows() -> list[Row]:
    with (CORPUS / "MANIFEST.tsv").open(newline="") as manifest:
        return [
            Row(
                path=row["path"],
                batches=int(row["batches"]),
                entries=int(row["entries"]),
                addenda=int(row["addenda"]),
                expectation=row["moov_test_expectation"],
            )
            for row in csv.DictReader(manifest, delimiter="\t")
        ]


ROWS = manifest_rows()


@dataclass(frozen=True)
class Reason:
    """A problem the validator must report: its kind, record and field."""

    kind: ErrorKind
    record: str
    field: str


def reason(kind: ErrorKind, record: str, field: str) -> Reason:
    return Reason(kind, record, field)


MISSING, MISPLACED = ErrorKind.MISSING_RECORD, ErrorKind.MISPLACED_RECORD
NON_ALNUM, INVALID = ErrorKind.NON_ALPHANUMERIC, ErrorKind.INVALID_VALUE
TOTAL, MANDATORY = ErrorKind.CONTROL_TOTAL, ErrorKind.MANDATORY_FIELD

# Every row the strict validator rejects (other than fuzz crashers), mapped to the
# manifest's stated reason in our terms.
REJECTED_FOR: dict[str, Reason] = {
    # PARTIAL files: the records the manifest says are missing.
    "test/issues/testdata/issue1378/neither_file_record.txt": reason(
        MISSING, "file header", "record"
    ),
    "test/issues/testdata/issue1378/no_control.txt": reason(MISSING, "file control", "record"),
    "test/issues/testdata/issue1378/no_header.txt": reason(MISSING, "file header", "record"),
    "test/testdata/bh-ed-ad-bh-ed-ad-ed-ad.ach": reason(MISSING, "batch control", "record"),
    "test/testdata/return-no-batch-controls.ach": reason(MISSING, "batch control", "record"),
    "test/testdata/return-no-batch-header.ach": reason(MISPLACED, "entry detail", "record type"),
    "test/testdata/return-no-file-header-control.ach": reason(MISSING, "file header", "record"),
    # issue1600: one NACHA rule broken per file.
    "test/issues/testdata/issue1600/1e5RecordBefore1or8.txt": reason(
        MISPLACED, "file header", "record type"
    ),
    "test/issues/testdata/issue1600/1k8RecordFollowing9Record.txt": reason(
        ErrorKind.RECORD_AFTER_FILE_CONTROL, "batch control", "record type"
    ),
    "test/issues/testdata/issue1600/1qFormatCodeIncorrect.txt": reason(
        INVALID, "file header", "format code"
    ),
    "test/issues/testdata/issue1600/2lCompanyNameAllZeros.txt": reason(
        MANDATORY, "batch header", "company name"
    ),
    "test/issues/testdata/issue1600/2mCompanyEntryDescAllZeros.txt": reason(
        MANDATORY, "batch header", "company entry description"
    ),
    "test/issues/testdata/issue1600/3fTELIndvNameAllBlank.txt": reason(
        MANDATORY, "entry detail", "individual name"
    ),
    "test/issues/testdata/issue1600/3fTELIndvNameAllZeros.txt": reason(
        MANDATORY, "entry detail", "individual name"
    ),
    # Header, layout and control problems.
    "test/testdata/20110729A-invalid.ach": reason(INVALID, "file header", "record size"),
    "test/testdata/20110805A.ach": reason(TOTAL, "file control", "batch count"),
    "test/testdata/FISERV-ZEROFILE-PIMRET825324_032720_110221.ach": reason(
        ErrorKind.CHECK_DIGIT, "file header", "immediate destination"
    ),
    "test/testdata/adv-invalidBatchEntries.ach": reason(MISPLACED, "addenda", "record type"),
    "test/testdata/adv-invalidFileControl.ach": reason(
        TOTAL, "file control", "entry/addenda count"
    ),
    "test/testdata/adv-noFileControl.ach": reason(MISSING, "file control", "record"),
    "test/testdata/file_header_control.rtf": reason(
        ErrorKind.UNKNOWN_RECORD_TYPE, "record", "record type"
    ),
    "test/testdata/missing_file_control.rtf": reason(MISSING, "file control", "record"),
    "test/testdata/file_parsing_missing_file_control.txt": reason(
        MISSING, "file control", "record"
    ),
    "test/testdata/ppd-debit-fixedLengthInvalid.ach": reason(
        ErrorKind.RECORD_LENGTH, "file", "record length"
    ),
    "test/testdata/skip-validation.ach": reason(
        ErrorKind.NOT_NUMERIC, "file header", "immediate destination"
    ),
    "test/testdata/invalid-two-micro-deposits.ach": reason(
        ErrorKind.NOT_NUMERIC, "entry detail", "amount"
    ),
    "test/testdata/ppd-debit-invalid-entryDetail-checkDigit.ach": reason(
        ErrorKind.CHECK_DIGIT, "entry detail", "check digit"
    ),
    "test/testdata/shr-credit.ach": reason(INVALID, "entry detail", "card expiration date"),
    # Non-ASCII text.
    "test/testdata/extended-ascii.ach": reason(NON_ALNUM, "entry detail", "individual name"),
    "test/testdata/nonascii-utf8.ach": reason(
        NON_ALNUM, "addenda 05", "payment related information"
    ),
    "test/testdata/nonascii.ach": reason(NON_ALNUM, "addenda 05", "payment related information"),
    "test/testdata/pos-invalidEntryDetail.ach": reason(
        NON_ALNUM, "entry detail", "individual name"
    ),
    # Returns and notifications of change.
    "test/testdata/iat-invalidAddenda98.ach": reason(INVALID, "addenda 98", "change code"),
    "test/testdata/web-invalidNOCFile.ach": reason(INVALID, "addenda 98", "change code"),
    "test/testdata/iat-invalidAddenda99.ach": reason(INVALID, "addenda 99", "return reason code"),
    "test/testdata/pos-invalidReturnFile.ach": reason(INVALID, "addenda 99", "return reason code"),
    # IAT.
    "test/testdata/iat-batchHeaderErr.ach": reason(MISPLACED, "addenda", "record type"),
    "test/testdata/iat-invalidAddenda10.ach": reason(
        INVALID, "addenda 10", "transaction type code"
    ),
    "test/testdata/Iat-invalidAddenda13.ach": reason(NON_ALNUM, "addenda 13", "content"),
    **{
        f"test/testdata/iat-invalidAddenda{n}.ach": reason(NON_ALNUM, f"addenda {n}", "content")
        for n in (11, 12, 14, 15, 16, 17, 18)
    },
    "test/testdata/iat-invalidAddendaRecordIndicator.ach": reason(
        ErrorKind.ADDENDA, "entry detail", "addenda record indicator"
    ),
    "test/testdata/iat-invalidBatchControl.ach": reason(
        ErrorKind.HEADER_CONTROL_MISMATCH, "batch control", "ODFI identification"
    ),
    "test/testdata/iat-invalidBatchHeader.ach": reason(
        INVALID, "batch header", "service class code"
    ),
    "test/testdata/iat-invalidEntryDetail.ach": reason(INVALID, "entry detail", "transaction code"),
    # Valid only with a relaxed rule (VALID_WITH_OPTIONS): rejected by default for it.
    "test/testdata/moov-ids.ach": reason(ErrorKind.TRACE_NUMBER, "entry detail", "trace number"),
    "test/testdata/ppd-debit-customTraceNumber.ach": reason(
        ErrorKind.TRACE_NUMBER, "entry detail", "trace number"
    ),
    "test/testdata/return-PPD-custom-reason-code.ach": reason(
        INVALID, "addenda 99", "return reason code"
    ),
    "test/issues/testdata/issue702.ach": reason(
        ErrorKind.NOT_NUMERIC, "file header", "immediate destination"
    ),
    # moov-io/ach's own tests expect these to fail (see DEVIATIONS for the evidence).
    "test/issues/testdata/issue702-1.ach": reason(MANDATORY, "file control", "batch count"),
    "test/issues/testdata/issue751.ach": reason(MISSING, "file header", "record"),
    # Manifest rows we reject though it assumes them valid (see DEVIATIONS).
    "test/testdata/20180713-IAT.ach": reason(
        ErrorKind.SERVICE_CLASS, "entry detail", "transaction code"
    ),
    "test/testdata/20180716-IAT-A17.ach": reason(
        ErrorKind.SERVICE_CLASS, "entry detail", "transaction code"
    ),
    "test/testdata/20180716-IAT-A17-A18.ach": reason(
        ErrorKind.SERVICE_CLASS, "entry detail", "transaction code"
    ),
    "test/testdata/flattenADVBatchesMultipleBatchHeaders.ach": reason(
        TOTAL, "file control", "total credit"
    ),
    "test/issues/testdata/issue1620.ach": reason(TOTAL, "file control", "batch count"),
    "test/testdata/txp-debit.ach": reason(
        ErrorKind.NOT_NUMERIC, "addenda 05", "entry detail sequence number"
    ),
}

# Rows that become valid when the rule their manifest note (or moov-io/ach's test) names
# is relaxed.
VALID_WITH_OPTIONS: dict[str, ValidationOptions] = {
    "test/testdata/ppd-debit-customTraceNumber.ach": ValidationOptions(custom_trace_numbers=True),
    "test/testdata/return-PPD-custom-reason-code.ach": ValidationOptions(custom_return_codes=True),
    "test/issues/testdata/issue702.ach": ValidationOptions(bypass_destination_validation=True),
    "test/testdata/ppd-debit-invalid-entryDetail-checkDigit.ach": ValidationOptions(
        allow_invalid_check_digit=True
    ),
    "test/issues/testdata/issue1600/3fTELIndvNameAllBlank.txt": ValidationOptions(
        allow_empty_individual_name=True
    ),
    "test/issues/testdata/issue1600/3fTELIndvNameAllZeros.txt": ValidationOptions(
        allow_empty_individual_name=True
    ),
}

# Where our verdict and the manifest's differ, and why.
DEVIATIONS: dict[str, str] = {
    "test/testdata/20180713-IAT.ach": "batch 2 has service class 220 (credits only) and a "
    "debit entry (27); moov-io/ach does not apply the service-class rule to IAT batches",
    "test/testdata/20180716-IAT-A17.ach": "same as 20180713-IAT.ach: a 27 in a 220 batch",
    "test/testdata/20180716-IAT-A17-A18.ach": "same as 20180713-IAT.ach: a 27 in a 220 batch",
    "test/testdata/flattenADVBatchesMultipleBatchHeaders.ach": "the file control's total "
    "credit is 600000 but its entries sum to 600078; moov-io/ach's flatten test rebuilds "
    "the controls before it validates",
    "test/issues/testdata/issue1620.ach": "the file control says 2 batches and there is 1; "
    "moov-io/ach's test calls file.Create(), which recomputes the controls, before Validate()",
    "test/testdata/moov-ids.ach": "even with custom trace numbers the file control's entry "
    "hash is 9999999999 (the entries give 144488931); moov-io/ach's test only calls Read(), "
    "which does not check file control totals",
    "test/testdata/txp-debit.ach": "not used by moov-io/ach's tests; its addenda 05 sequence "
    "numbers are '0100' and '00001  ' (shifted by 2 columns) and its block count is 2 for 6 "
    "records",
    "test/issues/testdata/issue702-1.ach": "assumed valid by the manifest, but moov-io/ach's "
    "TestIssue702_1 expects 'BatchCount 000000 is a mandatory field' (and the destination "
    "10006XXXX is not a routing number)",
    "test/issues/testdata/issue751.ach": "assumed valid by the manifest, but moov-io/ach's "
    "TestIssue751 expects an error: the file has no file header or control",
    "test/issues/testdata/issue702.ach": "moov-io/ach reads it with "
    "BypassDestinationValidation (destination YYYYYYYYY); valid with that option",
    "test/testdata/ppd-debit-customTraceNumber.ach": "read by moov-io/ach's tests with "
    "CustomTraceNumbers (trace numbers start 11111111, the ODFI is 12104288); valid with it",
    "test/testdata/ppd-mixedDebitCredit-invalid.ach": "the manifest says INVALID without a "
    "reason; moov-io/ach's only use of it (malformed_test.go) iterates it with SkipAll and "
    "asserts no error. Its counts, hash, totals, check digits and trace numbers all agree, so "
    "it validates clean here",
}

ACCEPTED_THOUGH_MANIFEST_SAYS_INVALID = frozenset(
    {"test/testdata/ppd-mixedDebitCredit-invalid.ach"}
)


def _found(errors: list[ValidationError]) -> set[Reason]:
    return {Reason(error.kind, error.record, error.field) for error in errors}


@pytest.mark.parametrize("row", ROWS, ids=[row.path for row in ROWS])
def test_corpus_file_ends_as_the_manifest_says(row: Row) -> None:
    data = row.data
    result = check_ach(data)  # never raises, whatever the bytes

    if row.is_fuzz_crasher:
        assert result.errors, "a fuzz crasher should not validate clean"
        return

    if row.path in REJECTED_FOR:
        expected = REJECTED_FOR[row.path]
        assert expected in _found(result.errors), [str(e) for e in result.errors]
        if row.manifest_says_valid and row.path not in VALID_WITH_OPTIONS:
            assert row.path in DEVIATIONS or row.expectation.startswith("VALID only with")
        if row.path in VALID_WITH_OPTIONS:
            relaxed = check_ach(data, VALID_WITH_OPTIONS[row.path])
            assert relaxed.errors == [], [str(e) for e in relaxed.errors]
            assert write_ach(relaxed.file) == normalized(data)
        return

    if not row.manifest_says_valid:
        assert row.path in ACCEPTED_THOUGH_MANIFEST_SAYS_INVALID, row.expectation
    assert result.errors == [], [str(e) for e in result.errors]
    ach_file = result.file
    assert len(ach_file.batches) == row.batches
    assert sum(len(batch.entries) for batch in ach_file.batches) == row.entries
    assert (
        sum(len(entry.addenda) for batch in ach_file.batches for entry in batch.entries)
        == row.addenda
    )
    # Round trip: the same bytes, up to the documented normalization.
    assert write_ach(ach_file) == normalized(data)


def test_every_exception_is_a_manifest_row() -> None:
    paths = {row.path for row in ROWS}
    assert set(REJECTED_FOR) <= paths
    assert set(VALID_WITH_OPTIONS) <= paths
    assert set(DEVIATIONS) <= paths


def test_corpus_has_the_expected_size() -> None:
    assert len(ROWS) == 170
