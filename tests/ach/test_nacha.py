"""Reader, writer and validator on files built here: each rule, one broken thing at a time."""

from __future__ import annotations

import dataclasses

import pytest

from smartpay.ach.nacha import (
    AchFile,
    Addenda05,
    Addenda98,
    Addenda99,
    Batch,
    BatchHeader,
    EntryDetail,
    ErrorKind,
    FileHeader,
    ValidationError,
    check_ach,
    fill_controls,
    is_routing_number,
    normalized,
    read_ach,
    validate_ach,
    write_ach,
)
from smartpay.ach.nacha.validator import routing_check_digit

ODFI = "12104288"  # 121042882: Wells Fargo's routing number, check digit 2


def entry(
    sequence: int, *, code: int = 22, amount: int = 1250, rdfi: str = "23138010", check: str = "4"
) -> EntryDetail:
    return EntryDetail(
        transaction_code=code,
        rdfi_identification=rdfi,
        check_digit=check,
        dfi_account_number="12345678",
        amount=amount,
        identification_number="INV-1",
        individual_name="Ada Lovelace",
        trace_number=f"{ODFI}{sequence:07d}",
    )


def build(entries: list[EntryDetail], *, sec: str = "PPD", service_class: int = 200) -> AchFile:
    header = FileHeader(
        immediate_destination=" 231380104",
        immediate_origin="0121042882",
        file_creation_date="250102",
        file_creation_time="0930",
        file_id_modifier="A",
        immediate_destination_name="Citadel",
        immediate_origin_name="SmartPay",
    )
    batch_header = BatchHeader(
        service_class_code=service_class,
        company_name="SmartPay",
        company_identification="1234567890",
        standard_entry_class_code=sec,
        company_entry_description="PAYROLL",
        effective_entry_date="250103",
        odfi_identification=ODFI,
        batch_number=1,
    )
    return fill_controls(AchFile(header=header, batches=[Batch(batch_header, list(entries))]))


def problems(ach_file: AchFile) -> set[tuple[ErrorKind, str]]:
    return {(error.kind, error.field) for error in validate_ach(ach_file)}


def test_a_built_file_is_valid_and_reads_back_equal() -> None:
    built = build([entry(1), entry(2, code=27, amount=700)])
    assert validate_ach(built) == []
    text = write_ach(built)
    lines = text.splitlines()
    assert len(lines) == 10 and all(len(line) == 94 for line in lines)
    assert lines[-4:] == ["9" * 94] * 4  # 6 records, padded to a block of ten
    again = read_ach(text)
    assert again.errors == []
    assert again.file == built
    assert write_ach(again.file) == text


def test_controls_count_hash_and_totals() -> None:
    built = build([entry(1, amount=1000), entry(2, code=27, amount=300)])
    control = built.batches[0].control
    assert control is not None
    assert (control.entry_addenda_count, control.entry_hash) == (2, 2 * 23138010)
    assert (control.total_debit, control.total_credit) == (300, 1000)
    assert built.control is not None and built.control.block_count == 1


def test_entry_hash_keeps_the_low_ten_digits() -> None:
    many = [
        entry(n, rdfi="99999999", check=str(routing_check_digit("99999999"))) for n in range(1, 102)
    ]
    built = build(many)
    assert built.batches[0].control is not None
    assert built.batches[0].control.entry_hash == (101 * 99999999) % 10**10
    assert validate_ach(built) == []


def test_routing_check_digit_weights_3_7_1() -> None:
    assert routing_check_digit("12104288") == 2
    assert is_routing_number("121042882")
    assert not is_routing_number("121042881")
    assert not is_routing_number("12104288X")


@pytest.mark.parametrize(
    ("change", "kind", "field"),
    [
        (
            lambda f: setattr(f.batches[0].entries[0], "check_digit", "5"),
            ErrorKind.CHECK_DIGIT,
            "check digit",
        ),
        (
            lambda f: setattr(f.batches[0].control, "entry_hash", 1),
            ErrorKind.CONTROL_TOTAL,
            "entry hash",
        ),
        (
            lambda f: setattr(f.batches[0].control, "total_credit", 1),
            ErrorKind.CONTROL_TOTAL,
            "total credit",
        ),
        (lambda f: setattr(f.control, "block_count", 2), ErrorKind.CONTROL_TOTAL, "block count"),
        (lambda f: setattr(f.control, "batch_count", 2), ErrorKind.CONTROL_TOTAL, "batch count"),
        (
            lambda f: setattr(f.batches[0].control, "batch_number", 9),
            ErrorKind.HEADER_CONTROL_MISMATCH,
            "batch number",
        ),
        (
            lambda f: setattr(f.batches[0].entries[1], "trace_number", f"{ODFI}0000001"),
            ErrorKind.TRACE_NUMBER,
            "trace number",
        ),
        (
            lambda f: setattr(f.batches[0].entries[0], "trace_number", "999999990000001"),
            ErrorKind.TRACE_NUMBER,
            "trace number",
        ),
        (lambda f: setattr(f.header, "format_code", "2"), ErrorKind.INVALID_VALUE, "format code"),
        (
            lambda f: setattr(f.header, "immediate_destination", " 231380105"),
            ErrorKind.CHECK_DIGIT,
            "immediate destination",
        ),
        (
            lambda f: setattr(f.batches[0].header, "company_name", "0000"),
            ErrorKind.MANDATORY_FIELD,
            "company name",
        ),
        (
            lambda f: setattr(f.batches[0].entries[0], "individual_name", "Zoë"),
            ErrorKind.NON_ALPHANUMERIC,
            "individual name",
        ),
        (
            lambda f: setattr(f.batches[0].entries[0], "amount", -5),
            ErrorKind.INVALID_VALUE,
            "amount",
        ),
    ],
)
def test_each_broken_rule_is_named(change: object, kind: ErrorKind, field: str) -> None:
    built = build([entry(1), entry(2)])
    change(built)  # type: ignore[operator]
    assert (kind, field) in problems(built)


def test_service_class_limits_direction() -> None:
    credits_only = build([entry(1, code=27)], service_class=220)
    assert (ErrorKind.SERVICE_CLASS, "transaction code") in problems(credits_only)
    debits_only = build([entry(1, code=22)], service_class=225)
    assert (ErrorKind.SERVICE_CLASS, "transaction code") in problems(debits_only)
    assert validate_ach(build([entry(1, code=27)], service_class=225)) == []


def test_prenotes_carry_no_money() -> None:
    assert validate_ach(build([entry(1, code=23, amount=0)])) == []
    assert (ErrorKind.PRENOTE_AMOUNT, "amount") in problems(build([entry(1, code=23, amount=1)]))


def with_addenda(item: EntryDetail, count: int) -> EntryDetail:
    item.addenda_record_indicator = 1
    sequence = int(item.trace_number[-7:])
    item.addenda = [Addenda05(f"note {n}", n, sequence) for n in range(1, count + 1)]
    return item


@pytest.mark.parametrize(("sec", "limit"), [("PPD", 1), ("CCD", 1), ("WEB", 1), ("TEL", 0)])
def test_sec_addenda_limits(sec: str, limit: int) -> None:
    assert validate_ach(build([with_addenda(entry(1), limit)], sec=sec)) == [] or limit == 0
    too_many = build([with_addenda(entry(1), limit + 1)], sec=sec)
    assert (ErrorKind.ADDENDA, "addenda") in problems(too_many)


def test_ctx_counts_its_addenda() -> None:
    item = with_addenda(entry(1), 3)
    item.individual_name = "0003ACME CORP"
    assert validate_ach(build([item], sec="CTX")) == []
    item.individual_name = "0002ACME CORP"
    assert (ErrorKind.ADDENDA, "number of addenda records") in problems(build([item], sec="CTX"))


def test_addenda_indicator_must_match() -> None:
    item = with_addenda(entry(1), 1)
    item.addenda_record_indicator = 0
    assert (ErrorKind.ADDENDA, "addenda record indicator") in problems(build([item]))


def test_returns_and_notifications_of_change() -> None:
    returned = entry(1, code=21)
    returned.addenda_record_indicator = 1
    returned.addenda = [Addenda99("R01", "091000010000001", "09100001", f"{ODFI}0000001")]
    assert validate_ach(build([returned])) == []
    returned.addenda[0] = dataclasses.replace(returned.addenda[0], return_reason_code="R99")  # type: ignore[type-var]
    assert (ErrorKind.INVALID_VALUE, "return reason code") in problems(build([returned]))

    change = entry(1, code=21, amount=0)
    change.addenda_record_indicator = 1
    change.addenda = [
        Addenda98("C01", "091000010000001", "09100001", "1918171614", f"{ODFI}0000001")
    ]
    assert validate_ach(build([change], sec="COR")) == []
    change.addenda[0] = dataclasses.replace(change.addenda[0], change_code="C99")  # type: ignore[type-var]
    assert (ErrorKind.INVALID_VALUE, "change code") in problems(build([change], sec="COR"))
    change.addenda = []
    change.addenda_record_indicator = 0
    assert (ErrorKind.ADDENDA, "addenda") in problems(build([change], sec="COR"))


def test_error_names_line_field_expected_and_found() -> None:
    text = write_ach(build([entry(1)])).replace("6222313801041234", "6222313801051234")
    [error] = check_ach(text).errors
    assert error == ValidationError(
        line=3,
        record="entry detail",
        field="check digit",
        expected="4 for RDFI 23138010",
        found="5",
        kind=ErrorKind.CHECK_DIGIT,
    )
    assert str(error) == "line 3, entry detail, check digit: expected 4 for RDFI 23138010, found 5"


def test_lenient_reading_and_its_normalization() -> None:
    text = write_ach(build([entry(1)]))
    lines = text.splitlines()
    stripped = [line.rstrip(" ") for line in lines]  # producers strip trailing blanks
    messy = "\r\n".join(stripped[:3]) + "\r\n" + lines[3] + "    \r\n\r\n" + "\r\n".join(lines[4:])
    result = check_ach(messy)
    assert result.errors == []
    assert write_ach(result.file) == text == normalized(messy)
    single_line = "".join(lines)  # no newlines at all
    result = check_ach(single_line)
    assert result.errors == []
    assert write_ach(result.file) == text == normalized(single_line)


def test_padding_is_regenerated_to_complete_the_block() -> None:
    text = write_ach(build([entry(1)]))
    without_padding = "\n".join(text.splitlines()[:5])
    assert check_ach(without_padding).errors == []
    assert write_ach(read_ach(without_padding).file) == text


def test_structure_problems_are_reported_not_raised() -> None:
    lines = write_ach(build([entry(1)])).splitlines()
    no_control = "\n".join(lines[:4])
    kinds = {(e.kind, e.record) for e in check_ach(no_control).errors}
    assert (ErrorKind.MISSING_RECORD, "file control") in kinds
    after = "\n".join([*lines[:5], lines[2]])
    kinds = {(e.kind, e.record) for e in check_ach(after).errors}
    assert (ErrorKind.RECORD_AFTER_FILE_CONTROL, "entry detail") in kinds
    garbage = check_ach(b"\xff\xfe{\\rtf1 hello}\n" + bytes(range(256)))
    assert garbage.errors


def test_a_non_numeric_amount_is_named() -> None:
    text = write_ach(build([entry(1)]))
    broken = text.replace("0000001250", "00000012X0", 1)
    assert (ErrorKind.NOT_NUMERIC, "amount") in {
        (e.kind, e.field) for e in check_ach(broken).errors
    }


def test_the_writer_refuses_a_field_that_does_not_fit() -> None:
    built = build([entry(1)])
    built.batches[0].entries[0].individual_name = "x" * 30
    with pytest.raises(ValueError, match="record 3"):
        write_ach(built)
