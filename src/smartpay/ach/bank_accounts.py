"""``us_bank_account`` payment methods: validate the routing number (check digit) and
the account number, put the account number in the vault, keep only its last 4, and
record the customer's authorization (a mandate) with its SEC code, text and time."""

from __future__ import annotations

from typing import Any

import smartpay.ach.repository as repository
from smartpay.ach.models import AccountHolderType, MandateStatus, SecCode
from smartpay.ach.nacha import is_routing_number
from smartpay.cards import repository as payment_method_repository
from smartpay.cards.schemas import MandateData, PaymentMethodCreate
from smartpay.errors import InvalidRequest
from smartpay.kit.clock import now
from smartpay.kit.db import Session
from smartpay.kit.ids import new_id
from smartpay.kit.params import merge_metadata
from smartpay.vault.service import Vault

# NACHA entry detail field 5: the DFI account number is 17 columns; US account numbers
# are at least 4 digits in practice (Stripe refuses shorter ones too).
MIN_ACCOUNT_DIGITS = 4
MAX_ACCOUNT_DIGITS = 17
# Routing numbers whose bank name SmartPay knows: Stripe's test bank.
KNOWN_BANKS = {"110000000": "STRIPE TEST BANK"}


def check_routing_number(value: str, *, param: str) -> str:
    if not is_routing_number(value):
        raise InvalidRequest(
            "Invalid routing number: it must be 9 digits with a valid ABA check digit "
            "(weights 3, 7, 1).",
            param=param,
            code="routing_number_invalid",
        )
    return value


def check_account_number(value: str, *, param: str) -> str:
    if not (value.isascii() and value.isdecimal()) or not (
        MIN_ACCOUNT_DIGITS <= len(value) <= MAX_ACCOUNT_DIGITS
    ):
        raise InvalidRequest(
            f"Invalid account number: {MIN_ACCOUNT_DIGITS} to {MAX_ACCOUNT_DIGITS} digits.",
            param=param,
            code="account_number_invalid",
        )
    return value


def sec_code_for(holder_type: str, mandate: MandateData) -> SecCode:
    """The SEC code of an authorization: CCD for a company's account; PPD (written) or
    WEB (online) for a consumer's. NACHA does not allow the mixes."""
    default = (
        SecCode.CCD
        if holder_type == AccountHolderType.COMPANY
        else SecCode.WEB
        if mandate.type == "online"
        else SecCode.PPD
    )
    code = SecCode(mandate.sec_code) if mandate.sec_code else default
    if (holder_type == AccountHolderType.COMPANY) != (code is SecCode.CCD):
        raise InvalidRequest(
            f"SEC code {code.value} does not fit an account_holder_type of {holder_type}: "
            "use CCD for company accounts and PPD or WEB for individuals.",
            param="mandate_data[sec_code]",
        )
    return code


async def create(
    session: Session, merchant_id: str, params: PaymentMethodCreate, *, vault: Vault
) -> str:
    """Creates the payment method (and its mandate when ``mandate_data`` is given);
    returns its id."""
    details = params.us_bank_account
    assert details is not None
    routing = check_routing_number(details.routing_number, param="us_bank_account[routing_number]")
    account = check_account_number(details.account_number, param="us_bank_account[account_number]")
    billing = params.billing_details.model_dump() if params.billing_details else {}
    created = now()
    token = await vault.store_bank_account(session, merchant_id, routing, account)
    payment_method_id = new_id("pm")
    await payment_method_repository.insert(
        session,
        id=payment_method_id,
        merchant_id=merchant_id,
        customer_id=params.customer,
        type="us_bank_account",
        vault_token=token,
        brand="",
        last4=account[-4:],
        exp_month=0,
        exp_year=0,
        funding="",
        fingerprint=vault.bank_fingerprint(merchant_id, routing, account),
        billing_details=billing,
        metadata=merge_metadata({}, params.metadata),
        created=created,
    )
    mandate_id = None
    if params.mandate_data is not None:
        mandate = params.mandate_data
        mandate_id = new_id("mandate")
        await repository.insert_mandate(
            session,
            id=mandate_id,
            merchant_id=merchant_id,
            payment_method_id=payment_method_id,
            sec_code=sec_code_for(details.account_holder_type, mandate).value,
            authorization_text=mandate.text,
            accepted_at=mandate.accepted_at if mandate.accepted_at is not None else created,
            acceptance_type=mandate.type,
            ip_address=mandate.ip_address,
            user_agent=mandate.user_agent,
            status=MandateStatus.ACTIVE.value,
            created=created,
        )
    await repository.insert_bank_account(
        session,
        payment_method_id=payment_method_id,
        merchant_id=merchant_id,
        routing_number=routing,
        account_type=details.account_type,
        account_holder_type=details.account_holder_type,
        account_holder_name=billing.get("name"),
        bank_name=KNOWN_BANKS.get(routing),
        mandate_id=mandate_id,
        changes=[],
    )
    return payment_method_id


def render_mandate(row: Any) -> dict[str, Any]:
    """Stripe's ``mandate`` object, plus the SEC code and the authorization text."""
    online = (
        {"ip_address": row.ip_address, "user_agent": row.user_agent}
        if row.acceptance_type == "online"
        else None
    )
    return {
        "id": row.id,
        "object": "mandate",
        "customer_acceptance": {
            "accepted_at": row.accepted_at,
            "type": row.acceptance_type,
            "online": online,
            "offline": {} if row.acceptance_type == "offline" else None,
        },
        "livemode": False,
        "multi_use": {},
        "payment_method": row.payment_method_id,
        "payment_method_details": {
            "type": "us_bank_account",
            "us_bank_account": {"sec_code": row.sec_code, "text": row.authorization_text},
        },
        "status": row.status,
        "type": "multi_use",
    }
