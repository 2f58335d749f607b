"""``smartpay ach`` through Typer's runner, against files of the moov-io/ach corpus."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from smartpay.ach.cli import ach_app

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "ach"
VALID = CORPUS / "test" / "testdata" / "ppd-debit.ach"
RETURNS = CORPUS / "test" / "testdata" / "return-WEB.ach"
NOC = CORPUS / "test" / "testdata" / "cor-example.ach"
BAD_CHECK_DIGIT = CORPUS / "test" / "testdata" / "ppd-debit-invalid-entryDetail-checkDigit.ach"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(ach_app, list(args))
    return result.exit_code, result.output


def test_validate_valid_file_exits_0() -> None:
    code, out = run("validate", str(VALID))
    assert code == 0, out
    assert "VALID" in out and "INVALID" not in out


def test_validate_lists_problems_and_exits_1_if_any_file_is_invalid() -> None:
    code, out = run("validate", str(VALID), str(BAD_CHECK_DIGIT))
    assert code == 1, out
    assert "INVALID" in out
    assert "line 3, entry detail, check digit: expected" in out


def test_validate_missing_file_exits_2_with_a_message(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ach"
    code, out = run("validate", str(VALID), str(missing))
    assert code == 2
    assert "cannot read" in out and "nope.ach" in out
    code, out = run("validate", str(tmp_path))  # a directory
    assert code == 2 and "cannot read" in out


def test_inspect_summarizes_header_batches_and_returns() -> None:
    code, out = run("inspect", str(RETURNS))
    assert code == 0, out
    assert "Immediate destination" in out
    assert "WEB" in out
    assert "return R" in out
    code, out = run("inspect", str(NOC))
    assert code == 0, out
    assert "NOC C" in out and "COR" in out


def test_inspect_missing_file_exits_2(tmp_path: Path) -> None:
    code, out = run("inspect", str(tmp_path / "nope.ach"))
    assert code == 2 and "cannot read" in out
