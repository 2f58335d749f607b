"""us_bank_account payment methods, ACH debits and payouts end to end: batch cycle,
NACHA file in the outbox, the sandbox bank's returns file, ingestion, settlement."""

from __future__ import annotations

import datetime
import itertools
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from smartpay.ach import batching, returns, sandbox_bank, service
from smartpay.ach.models import TRANSFER_TRANSITIONS, TransferStatus
from smartpay.ach.nacha import (
    AchFile,
    Addenda98,
    Batch,
    BatchHeader,
    EntryDetail,
    FileHeader,
    check_ach,
    fill_controls,
    write_ach,
)
from smartpay.ach.odfi import odfis
from smartpay.ach.service import TransitionRefused, check_transition
from smartpay.kit.db import Database, metadata
from smartpay.ledger import service as ledger
from tests.conftest import Api

# A Tuesday, 09:00 in New York: before the first same-day cut-off.
TUESDAY_9AM = int(
    datetime.datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("America/New_York")).timestamp()
)
DAY = 86_400


async def bank_method(api: Api, account: str = "000123456789", **extra: str) -> dict[str, Any]:
    data: dict[str, object] = {
        "type": "us_bank_account",
        "us_bank_account[routing_number]": "110000000",
        "us_bank_account[account_number]": account,
        "us_bank_account[account_type]": "checking",
        "us_bank_account[account_holder_type]": "individual",
        "billing_details[name]": "Jenny Rosen",
        "mandate_data[text]": "I authorize Test merchant to debit my account.",
        "mandate_data[ip_address]": "203.0.113.7",
        **extra,
    }
    response = await api.post("/v1/payment_methods", data)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_transition_table_exhaustively() -> None:
    for current, target in itertools.product(TransferStatus, TransferStatus):
        if target in TRANSFER_TRANSITIONS[current]:
            check_transition(current.value, target)
        else:
            with pytest.raises(TransitionRefused):
                check_transition(current.value, target)
    assert TRANSFER_TRANSITIONS[TransferStatus.RETURNED] == frozenset()


async def test_us_bank_account_payment_method_and_mandate(api: Api, database: Database) -> None:
    method = await bank_method(api)
    assert method["type"] == "us_bank_account" and "card" not in method
    bank = method["us_bank_account"]
    assert bank["last4"] == "6789" and bank["routing_number"] == "110000000"
    assert bank["account_type"] == "checking" and bank["account_holder_type"] == "individual"
    mandate = (await api.get(f"/v1/mandates/{bank['mandate']}")).json()
    assert mandate["payment_method_details"]["us_bank_account"]["sec_code"] == "WEB"
    assert mandate["customer_acceptance"]["online"]["ip_address"] == "203.0.113.7"
    assert "authorize" in mandate["payment_method_details"]["us_bank_account"]["text"]
    assert (await api.get(f"/v1/payment_methods/{method['id']}")).json() == method
    # The account number is nowhere in the database in clear.
    async with database.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(sa.select(table))).all():
                assert "000123456789" not in repr(tuple(row)), table.name
    bad = await api.post(
        "/v1/payment_methods",
        {
            "type": "us_bank_account",
            "us_bank_account[routing_number]": "110000001",
            "us_bank_account[account_number]": "000123456789",
        },
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "routing_number_invalid"
    company_ppd = await api.post(
        "/v1/payment_methods",
        {
            "type": "us_bank_account",
            "us_bank_account[routing_number]": "110000000",
            "us_bank_account[account_number]": "000123456789",
            "us_bank_account[account_holder_type]": "company",
            "mandate_data[text]": "ok",
            "mandate_data[sec_code]": "PPD",
        },
    )
    assert company_ppd.status_code == 400
    # A card payment with a bank account is refused cleanly, not a 500.
    paid = await api.post(
        "/v1/payment_intents",
        {"amount": "100", "currency": "usd", "payment_method": method["id"], "confirm": "true"},
    )
    assert paid.status_code == 400, paid.text
    assert (
        await api.get(f"/v1/mandates/{bank['mandate']}", key=api.other.secret_key)
    ).status_code == 404


async def debit(
    api: Api, method: dict[str, Any], amount: int = 5000, **extra: str
) -> dict[str, Any]:
    response = await api.post(
        "/v1/ach_debits",
        {"amount": str(amount), "currency": "usd", "payment_method": method["id"], **extra},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def run_bank_round(api: Api, now: int) -> None:
    platform = api.app.state.platform  # type: ignore[attr-defined]
    settings = platform.settings
    sandbox_bank.take(settings, now=now)
    sandbox_bank.respond(settings, now=now)
    await returns.ingest_inbox(platform.database, settings, platform.vault, now=now)
    async with platform.database.transaction() as session:
        await service.settle_due(session, now)


async def test_debits_end_to_end_with_sandbox_bank(api: Api, database: Database) -> None:
    platform = api.app.state.platform  # type: ignore[attr-defined]
    settings = platform.settings
    cases = {
        "000123456789": None,
        "000111111113": "R02",
        "000111111116": "R03",
        "000222222227": "R01",
        "000333333335": "R10",
    }
    debits = {}
    for account in cases:
        method = await bank_method(api, account)
        debits[account] = await debit(api, method, speed="same_day")
    assert {d["status"] for d in debits.values()} == {"initiated"}

    report = await batching.run_cycle(platform.database, settings, platform.vault, now=TUESDAY_9AM)
    assert report.entries == 5 and report.batches == 1 and len(report.files) == 1
    assert report.fees == settings.ach_fee_amount  # one batch, per-batch fee model
    assert report.fees_if_per_entry == 5 * settings.ach_fee_amount
    assert report.stripe_equivalent == 5 * 40  # 0.8% of 50.00
    path = settings.ach_dir / "outbox" / report.files[0]
    assert check_ach(path.read_bytes()).errors == []
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    manifest = json.loads((settings.ach_dir / "outbox" / "manifest.json").read_text())
    assert manifest["files"][0]["name"] == report.files[0]
    assert manifest["files"][0]["entry_count"] == 5
    parsed = check_ach(path.read_bytes()).file
    header = parsed.batches[0].header
    assert isinstance(header, BatchHeader)
    assert header.standard_entry_class_code == "WEB" and header.effective_entry_date == "261201"

    for account, row in debits.items():
        current = (await api.get(f"/v1/ach_debits/{row['id']}")).json()
        assert current["status"] == "submitted", account
        assert current["trace_number"].startswith("11000000")

    # Before the sandbox bank's delay nothing comes back; after it the returns do.
    await run_bank_round(api, TUESDAY_9AM + 60)
    assert (await api.get(f"/v1/ach_debits/{debits['000111111113']['id']}")).json()[
        "status"
    ] == "submitted"
    await run_bank_round(api, TUESDAY_9AM + settings.ach_sandbox_return_delay_seconds + 60)
    for account, code in cases.items():
        current = (await api.get(f"/v1/ach_debits/{debits[account]['id']}")).json()
        if code is None:
            assert current["status"] == "submitted"
        else:
            assert current["status"] == "returned", account
            assert current["failure_code"] == code
    await run_bank_round(api, TUESDAY_9AM + settings.ach_settlement_delay_seconds + 60)
    good = (await api.get(f"/v1/ach_debits/{debits['000123456789']['id']}")).json()
    assert good["status"] == "settled"

    balance = (await api.get("/v1/balance")).json()
    assert balance["available"] == [{"amount": 5000, "currency": "usd"}]
    events = (await api.get("/v1/events", params={"limit": "100"})).json()["data"]
    types = [e["type"] for e in events]
    for name in (
        "ach_debit.initiated",
        "ach_debit.batched",
        "ach_debit.submitted",
        "ach_debit.returned",
        "ach_debit.settled",
    ):
        assert name in types
    # R10 ended the mandate: no further debit under it.
    r10 = await api.get(f"/v1/payment_methods/{debits['000333333335']['payment_method']}")
    again = await api.post(
        "/v1/ach_debits", {"amount": "100", "currency": "usd", "payment_method": r10.json()["id"]}
    )
    assert again.status_code == 400 and again.json()["error"]["code"] == "mandate_invalid"
    async with database.transaction() as session:
        assert await ledger.verify(session) == []
    # Another merchant sees none of it.
    assert (
        await api.get(f"/v1/ach_debits/{good['id']}", key=api.other.secret_key)
    ).status_code == 404
    # Ingesting the same returns file again changes nothing.
    processed = settings.ach_dir / "inbox" / "processed"
    name = next(processed.iterdir()).name
    again_report = await returns.ingest(
        platform.database,
        settings,
        platform.vault,
        name,
        (processed / name).read_bytes(),
        now=TUESDAY_9AM,
    )
    assert again_report.duplicate


async def test_payout_and_cost_report(api: Api) -> None:
    platform = api.app.state.platform  # type: ignore[attr-defined]
    settings = platform.settings
    method = await bank_method(api)
    refused = await api.post(
        "/v1/payouts", {"amount": "100", "currency": "usd", "destination": method["id"]}
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "balance_insufficient"
    await debit(api, method, 10_000)
    await batching.run_cycle(platform.database, settings, platform.vault, now=TUESDAY_9AM)
    await run_bank_round(api, TUESDAY_9AM + settings.ach_settlement_delay_seconds + 1)
    payout = (
        await api.post(
            "/v1/payouts", {"amount": "4000", "currency": "usd", "destination": method["id"]}
        )
    ).json()
    assert payout["object"] == "payout" and payout["status"] == "pending"
    assert (await api.get("/v1/balance")).json()["available"][0]["amount"] == 6000
    later = TUESDAY_9AM + 3 * DAY
    await batching.run_cycle(platform.database, settings, platform.vault, now=later)
    assert (await api.get(f"/v1/payouts/{payout['id']}")).json()["status"] == "in_transit"
    await run_bank_round(api, later + settings.ach_settlement_delay_seconds + 1)
    assert (await api.get(f"/v1/payouts/{payout['id']}")).json()["status"] == "paid"
    report = (await api.get("/v1/reports/costs")).json()
    ach = report["data"][0]["ach"]
    assert ach["count"] == 2 and ach["stripe_cost"] == 80 + 32
    assert ach["actual_cost"] == 2 * settings.ach_fee_amount
    assert ach["savings"] == ach["stripe_cost"] - ach["actual_cost"]
    assert report["ach_batching"]["batches"] == 2


async def test_returned_payout_goes_back_to_balance(api: Api) -> None:
    platform = api.app.state.platform  # type: ignore[attr-defined]
    settings = platform.settings
    funding = await bank_method(api)
    await debit(api, funding, 10_000)
    await batching.run_cycle(platform.database, settings, platform.vault, now=TUESDAY_9AM)
    await run_bank_round(api, TUESDAY_9AM + settings.ach_settlement_delay_seconds + 1)
    closed = await bank_method(api, "000111111113")
    payout = (
        await api.post(
            "/v1/payouts", {"amount": "2500", "currency": "usd", "destination": closed["id"]}
        )
    ).json()
    later = TUESDAY_9AM + 3 * DAY
    await batching.run_cycle(platform.database, settings, platform.vault, now=later)
    await run_bank_round(api, later)  # the bank takes the file
    await run_bank_round(api, later + settings.ach_sandbox_return_delay_seconds + 1)
    failed = (await api.get(f"/v1/payouts/{payout['id']}")).json()
    assert failed["status"] == "failed" and failed["failure_code"] == "account_closed"
    assert (await api.get("/v1/balance")).json()["available"][0]["amount"] == 10_000


async def test_cancel_before_batching_reverses(api: Api) -> None:
    method = await bank_method(api)
    row = await debit(api, method)
    canceled = (await api.post(f"/v1/ach_debits/{row['id']}/cancel")).json()
    assert canceled["status"] == "failed"
    again = await api.post(f"/v1/ach_debits/{row['id']}/cancel")
    assert again.status_code == 400


@pytest.mark.settings(ach_fee_model="per_entry")
async def test_batches_split_by_company_sec_and_date_and_size(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = api.app.state.platform  # type: ignore[attr-defined]
    settings = platform.settings
    monkeypatch.setattr(batching, "MAX_BATCH_ENTRIES", 2)
    method = await bank_method(api)
    company = await bank_method(
        api, **{"us_bank_account[account_holder_type]": "company", "mandate_data[sec_code]": "CCD"}
    )
    for _ in range(3):
        await debit(api, method)  # standard: next business day
    await debit(api, method, speed="same_day")  # same day
    await debit(api, company)  # CCD
    report = await batching.run_cycle(platform.database, settings, platform.vault, now=TUESDAY_9AM)
    # WEB standard: 3 entries -> 2 batches of <= 2; WEB same-day: 1; CCD: 1.
    assert report.batches == 4 and report.entries == 5
    assert report.fees == 5 * settings.ach_fee_amount  # per-entry model
    parsed = check_ach((settings.ach_dir / "outbox" / report.files[0]).read_bytes())
    assert parsed.errors == []
    dates = sorted({b.header.effective_entry_date for b in parsed.file.batches})
    assert dates == ["261201", "261202"]
    assert {b.sec_code for b in parsed.file.batches} == {"WEB", "CCD"}


def test_effective_dates_and_cutoffs() -> None:
    from smartpay.config import Settings

    odfi = odfis(Settings())["sandbox"]
    assert odfi.effective_date("same_day", 100, TUESDAY_9AM).isoformat() == "2026-12-01"
    assert odfi.effective_date("same_day", 100_000_001, TUESDAY_9AM).isoformat() == "2026-12-02"
    assert odfi.effective_date("standard", 100, TUESDAY_9AM).isoformat() == "2026-12-02"
    evening = TUESDAY_9AM + 10 * 3600  # 19:00, past the standard cut-off
    assert odfi.effective_date("same_day", 100, evening).isoformat() == "2026-12-03"
    friday_evening = evening + 3 * DAY
    assert odfi.effective_date("standard", 100, friday_evening).isoformat() == "2026-12-08"
    cutoffs = odfi.cutoffs_between(TUESDAY_9AM, TUESDAY_9AM + DAY)
    local = [
        datetime.datetime.fromtimestamp(c, ZoneInfo("America/New_York")).strftime("%H:%M")
        for c in cutoffs
    ]
    assert local == ["10:30", "14:45", "16:45", "18:00"]


async def test_noc_updates_the_stored_account(api: Api) -> None:
    platform = api.app.state.platform  # type: ignore[attr-defined]
    settings = platform.settings
    method = await bank_method(api)
    row = await debit(api, method)
    await batching.run_cycle(platform.database, settings, platform.vault, now=TUESDAY_9AM)
    trace = (await api.get(f"/v1/ach_debits/{row['id']}")).json()["trace_number"]
    noc = fill_controls(
        AchFile(
            header=FileHeader(
                " 110000000", " 110000000", "261202", "0900", "A", "SMARTPAY", "SANDBOX BANK"
            ),
            batches=[
                Batch(
                    header=BatchHeader(
                        220,
                        "TEST MERCHANT",
                        "9000000001",
                        "COR",
                        "SMARTPAY",
                        "261202",
                        "11000000",
                        1,
                    ),
                    entries=[
                        EntryDetail(
                            transaction_code=21,
                            rdfi_identification="11000000",
                            check_digit="0",
                            dfi_account_number="000123456789",
                            amount=0,
                            identification_number="",
                            individual_name="JENNY ROSEN",
                            trace_number="110000000000001",
                            addenda_record_indicator=1,
                            addenda=[
                                Addenda98(
                                    "C06",
                                    trace,
                                    "11000000",
                                    f"{'000987654321':<17}   37",
                                    "110000000000001",
                                )
                            ],
                        )
                    ],
                )
            ],
        )
    )
    text = write_ach(noc)
    assert check_ach(text).errors == []
    report = await returns.ingest(
        platform.database, settings, platform.vault, "noc.ach", text.encode(), now=TUESDAY_9AM
    )
    assert report.notifications == 1 and report.unmatched == 0
    updated = (await api.get(f"/v1/payment_methods/{method['id']}")).json()["us_bank_account"]
    assert updated["last4"] == "4321" and updated["account_type"] == "savings"
    # The next file debits the corrected account.
    second = await debit(api, method)
    assert second["status"] == "initiated"
    cycle = await batching.run_cycle(
        platform.database, settings, platform.vault, now=TUESDAY_9AM + DAY
    )
    parsed = check_ach((settings.ach_dir / "outbox" / cycle.files[0]).read_bytes()).file
    entry = parsed.batches[0].entries[0]
    assert isinstance(entry, EntryDetail)
    assert entry.dfi_account_number.strip() == "000987654321" and entry.transaction_code == 37
