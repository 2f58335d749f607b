"""The payment chat: sessions, turns and the payment at the end.

A turn is: load the session from its store, let the dialogue read the message, (on
"yes") create the PaymentMethod through the cards service and confirm a PaymentIntent
through the payment flows, phrase the reply, save the session. The session store may be
Redis, so a turn is not one database transaction; the payment itself is the payment
flows' recorded multi-phase work, behind an Idempotency-Key derived from the session
and the attempt number, so a repeated "yes" never pays twice.

Card data: the message's card number is sealed with the vault's envelope encryption
the moment it is read (only ciphertext is kept in the session) and the CVC goes to the
CVC store. Only the masked text (``•••• 4242``) reaches the history, logs or a model.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from smartpay.cards import service as payment_methods
from smartpay.cards.schemas import BillingDetails, CardDetails, PaymentMethodCreate
from smartpay.chat.dialogue import (
    FINISHED,
    FINISHED_REPLY,
    MAX_PAYMENT_ATTEMPTS,
    STATUS_TRANSITIONS,
    ChatState,
    ChatStatus,
    Dialogue,
    Purchase,
    Turn,
)
from smartpay.chat.parser import Field, Topic
from smartpay.chat.store import ChatSessionRecord, ChatSessionStore, build_chat_store
from smartpay.config import Settings
from smartpay.dependencies import WriteContext
from smartpay.errors import (
    AuthenticationFailed,
    CardError,
    InvalidRequest,
    InvalidState,
    ResourceMissing,
)
from smartpay.kit import idempotency
from smartpay.kit.clock import now
from smartpay.kit.db import Database
from smartpay.kit.ids import new_secret
from smartpay.kit.money import check_amount, normalize_currency
from smartpay.kit.redaction import redact_pan
from smartpay.llm.base import LlmClient, LlmError, LlmMessage, LlmRequest, Role
from smartpay.merchants.models import KeyKind
from smartpay.merchants.service import MerchantContext
from smartpay.payments import service as payments
from smartpay.payments.flows import PaymentFlows
from smartpay.payments.schemas import PaymentIntentConfirm, PaymentIntentCreate
from smartpay.vault.crypto import SealedRecord, associated_data, open_, seal
from smartpay.vault.cvc import CvcStore
from smartpay.vault.service import Vault

logger = logging.getLogger("smartpay.chat")

SESSION_ID_PREFIX = "chat"
# The session id is the customer's capability for /pay/{id}: 32 base62 characters are
# about 190 random bits, as unguessable as an API key.
SESSION_ID_RANDOM_CHARS = 32
# Purpose label of sealed card numbers awaiting confirmation (``vault.crypto``): such a
# record cannot be replayed as a vault card or moved to another session.
PAN_AAD_PURPOSE = "smartpay.chat.pan.v1"
MAX_MESSAGE_CHARS = 2000
# A model reply may not bring numbers of its own (3+ digits): only the template's.
_NUMBER = re.compile(r"\d{3,}")

PHRASE_SYSTEM = (
    "You are the assistant of a payment page. Rewrite the assistant reply you are given "
    "so it sounds natural and friendly, in at most three sentences. Keep every fact, "
    "amount, masked card detail, link and question exactly. Never ask for anything else "
    "and never invent numbers. Answer with the rewritten reply only."
)
CLASSIFY_SYSTEM = (
    "Classify the customer's message to a payment assistant. Answer with JSON only: "
    '{"intent": one of "question_cvc", "question_security", "question_expiry", '
    '"question_name", "question_card", "question_amount", "help", "other"}.'
)
_CLASSIFIED_TOPICS = {
    "question_cvc": Topic.CVC,
    "question_security": Topic.SECURITY,
    "question_expiry": Topic.EXPIRY,
    "question_name": Topic.NAME,
    "question_card": Topic.CARD,
    "question_amount": Topic.AMOUNT,
    "help": Topic.HELP,
}


# Characters of a session id that logs show: enough to tell sessions apart when reading
# logs (8 random base62 characters after "chat_"), far too few to open the session.
LOGGED_ID_CHARS = 13


def logged_id(session_id: str) -> str:
    """The session id as logs show it: the id is the customer's capability for /pay
    and /session, so logs (read by more people than the vault) keep only its start."""
    return f"{session_id[:LOGGED_ID_CHARS]}…"


def cvc_key(session_id: str) -> str:
    return f"chat-cvc:{session_id}"


class VaultCardKeeper:
    """The dialogue's ``CardKeeper`` for one session: card numbers sealed with the
    vault's keys, CVCs in the platform's CVC store."""

    def __init__(
        self, vault: Vault, cvc_store: CvcStore, record: ChatSessionRecord, ttl_seconds: int
    ) -> None:
        self._vault = vault
        self._cvc_store = cvc_store
        self._record = record
        self._ttl = max(ttl_seconds, 1)

    def _aad(self) -> bytes:
        return associated_data(PAN_AAD_PURPOSE, self._record.id, self._record.merchant_id)

    async def seal_pan(self, number: str) -> dict[str, Any]:
        sealed = seal(self._vault.provider, number.encode(), self._aad())
        return {
            "v": sealed.key_version,
            "k": base64.b64encode(sealed.wrapped_key).decode(),
            "n": base64.b64encode(sealed.nonce).decode(),
            "c": base64.b64encode(sealed.ciphertext).decode(),
        }

    def open_pan(self, sealed: dict[str, Any]) -> str:
        record = SealedRecord(
            ciphertext=base64.b64decode(sealed["c"]),
            nonce=base64.b64decode(sealed["n"]),
            wrapped_key=base64.b64decode(sealed["k"]),
            key_version=sealed["v"],
        )
        return open_(self._vault.provider, record, self._aad()).decode()

    async def hold_cvc(self, cvc: str) -> None:
        await self._cvc_store.put(cvc_key(self._record.id), cvc, self._ttl)

    async def take_cvc(self) -> str | None:
        return await self._cvc_store.take(cvc_key(self._record.id))

    async def drop_cvc(self) -> None:
        await self._cvc_store.take(cvc_key(self._record.id))


@dataclass(slots=True)
class ChatReply:
    record: ChatSessionRecord
    text: str
    next_action_url: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "response": self.text,
            "status": self.record.status,
            "sessionId": self.record.id,
            "currentField": self.record.current_field,
        }
        if self.next_action_url:
            body["nextActionUrl"] = self.next_action_url
        return body


def accepted_brands(settings: Settings) -> frozenset[str]:
    return frozenset(
        b.strip().lower() for b in settings.chat_accepted_brands.split(",") if b.strip()
    )


class ChatService:
    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        store: ChatSessionStore,
        vault: Vault,
        cvc_store: CvcStore,
        flows: PaymentFlows,
        llm: LlmClient | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.store = store
        self.vault = vault
        self.cvc_store = cvc_store
        self.flows = flows
        self.llm = llm
        self.accepted_brands = accepted_brands(settings)

    async def close(self) -> None:
        await self.store.close()
        if self.llm is not None:
            await self.llm.close()

    # ------------------------------------------------------------------ sessions

    async def open_session(
        self,
        merchant_id: str,
        *,
        amount: int | None = None,
        currency: str | None = None,
        description: str | None = None,
    ) -> ChatSessionRecord:
        if amount is not None:
            amount = check_amount(amount)
            if currency is None:
                raise InvalidRequest(
                    "Missing required param: currency (a session with an amount needs one).",
                    param="currency",
                    code="parameter_missing",
                )
            currency = normalize_currency(currency)
        elif currency is not None:
            raise InvalidRequest("currency is only allowed together with amount.", param="currency")
        created = now()
        record = ChatSessionRecord(
            id=new_secret(SESSION_ID_PREFIX, SESSION_ID_RANDOM_CHARS),
            merchant_id=merchant_id,
            status=ChatStatus.COLLECTING.value,
            current_field=Field.NAME.value,
            amount=amount,
            currency=currency,
            description=description,
            state=ChatState().to_json(),
            version=0,
            created=created,
            updated=created,
            expires_at=created + self.settings.chat_session_ttl_seconds,
        )
        await self.store.create(record)
        logger.info("chat session %s opened for %s", logged_id(record.id), merchant_id)
        return record

    async def load(self, session_id: str, merchant: MerchantContext | None) -> ChatSessionRecord:
        """The session, if ``merchant`` (None: the customer holding the id) may see it.

        The error never repeats the id: it is the customer's capability, and whatever
        was sent in its place (a card number pasted in the wrong box) must not come back
        in an error."""
        missing = ResourceMissing("No such chat session.", param="sessionId")
        if not session_id.startswith(f"{SESSION_ID_PREFIX}_") or len(session_id) > 64:
            raise missing
        record = await self.store.load(session_id)
        if record is None or (merchant is not None and record.merchant_id != merchant.merchant_id):
            raise missing
        return record

    def describe(self, record: ChatSessionRecord) -> dict[str, Any]:
        state = ChatState.from_json(record.state)
        return {
            "id": record.id,
            "object": "chat_session",
            "status": record.status,
            "currentField": record.current_field,
            "amount": record.amount,
            "currency": record.currency,
            "description": record.description,
            "collected": state.masked(),
            "history": state.history,
            "created": record.created,
            "expires_at": record.expires_at,
        }

    async def payment_status(self, record: ChatSessionRecord) -> str | None:
        """The PaymentIntent's status now (it moves on after 3-D Secure, off the chat)."""
        intent_id = record.state.get("payment_intent_id")
        if not intent_id:
            return None
        async with self.database.transaction() as session:
            intent = await payments.get_intent(session, record.merchant_id, intent_id)
        return str(intent.status)

    async def cancel(self, record: ChatSessionRecord) -> ChatSessionRecord:
        """Cancel and purge: every collected detail and the history are dropped."""
        keeper = self._keeper(record)
        await keeper.drop_cvc()
        state = ChatState.from_json(record.state)
        if ChatStatus(record.status) not in FINISHED:
            record.status = ChatStatus.CANCELLED.value
        record.current_field = None
        record.state = ChatState(
            payment_method_id=state.payment_method_id,
            payment_intent_id=state.payment_intent_id,
            outcome=state.outcome,
        ).to_json()
        await self.store.save(record)
        logger.info("chat session %s cancelled and purged", logged_id(record.id))
        return record

    # ------------------------------------------------------------------ turns

    def _keeper(self, record: ChatSessionRecord) -> VaultCardKeeper:
        return VaultCardKeeper(self.vault, self.cvc_store, record, record.expires_at - now())

    def _dialogue(self, record: ChatSessionRecord, keeper: VaultCardKeeper) -> Dialogue:
        purchase = Purchase(record.amount, record.currency, record.description)
        classify = self._classify if self.llm is not None else None
        return Dialogue(purchase, keeper, accepted_brands=self.accepted_brands, classify=classify)

    async def message(
        self, merchant: MerchantContext | None, session_id: str | None, message: str
    ) -> ChatReply:
        if len(message) > MAX_MESSAGE_CHARS:
            raise InvalidRequest(
                f"A chat message is at most {MAX_MESSAGE_CHARS} characters.", param="message"
            )
        if session_id is None:
            if merchant is None:
                raise AuthenticationFailed(
                    "Start a chat session with your publishable key (Authorization: Bearer "
                    "pk_...), or send the sessionId of an open session.",
                    code="api_key_missing",
                )
            record = await self.open_session(merchant.merchant_id)
            fresh = True
        else:
            record = await self.load(session_id, merchant)
            fresh = False
        status = ChatStatus(record.status)
        if status in FINISHED:
            return ChatReply(record, FINISHED_REPLY[status], record.state.get("next_action_url"))
        keeper = self._keeper(record)
        dialogue = self._dialogue(record, keeper)
        state = ChatState.from_json(record.state)
        if not message.strip() or (fresh and _is_greeting_only(message)):
            text = dialogue.greeting() if fresh or not state.history else dialogue.prompt(state)
            state.remember("assistant", text)
            record.state = state.to_json()
            await self.store.save(record)
            return ChatReply(record, text)
        turn, parsed = await dialogue.turn(state, message)
        masked = redact_pan(parsed.masked_text)
        state.remember("customer", masked)
        logger.debug("chat %s customer: %s", logged_id(record.id), masked)
        if turn.confirmed:
            turn = await self._pay(record, state, dialogue, keeper)
        if turn.status in (ChatStatus.CANCELLED, ChatStatus.ERROR):
            await dialogue.forget_card(state)
        text = await self._phrase(turn.reply, state)
        state.remember("assistant", text)
        if turn.status is not status and turn.status not in STATUS_TRANSITIONS[status]:
            raise InvalidState(f"A chat session cannot move from {status} to {turn.status}.")
        record.status = turn.status.value
        record.current_field = turn.current.value if turn.current is not None else None
        record.state = state.to_json()
        await self.store.save(record)
        logger.info(
            "chat %s turn: status=%s field=%s",
            logged_id(record.id),
            record.status,
            record.current_field,
        )
        return ChatReply(record, text, state.next_action_url)

    # ------------------------------------------------------------------ payment

    async def _pay(
        self,
        record: ChatSessionRecord,
        state: ChatState,
        dialogue: Dialogue,
        keeper: VaultCardKeeper,
    ) -> Turn:
        assert state.sealed_pan is not None and state.exp_month and state.exp_year
        cvc = await keeper.take_cvc()
        number = keeper.open_pan(state.sealed_pan)
        params = PaymentMethodCreate(
            type="card",
            card=CardDetails(
                number=number, exp_month=state.exp_month, exp_year=state.exp_year, cvc=cvc
            ),
            billing_details=BillingDetails(name=state.name),
            metadata={"chat_session": record.id},
        )
        del number, cvc
        try:
            async with self.database.transaction() as session:
                method = await payment_methods.create(
                    session,
                    record.merchant_id,
                    params,
                    vault=self.vault,
                    cvc_store=self.cvc_store,
                    cvc_ttl_seconds=self.settings.cvc_ttl_seconds,
                )
        except CardError as error:
            # The card stopped being valid while the customer typed (its month ended).
            await dialogue.forget_card(state)
            return Turn(
                f"{error.message} Please use another card. What is the card number?",
                ChatStatus.COLLECTING,
                Field.CARD,
            )
        finally:
            del params
        # The number now lives in the vault behind the PaymentMethod; the sealed copy
        # and the CVC slot of the session are no longer needed.
        state.sealed_pan = None
        state.cvc_held = False
        state.payment_method_id = method.id
        card = state.card_display()
        if record.amount is None:
            state.outcome = "saved"
            return Turn(f"Done: your {card} is saved. Thank you!", ChatStatus.COMPLETED, None)
        return await self._charge(record, state, dialogue, method.id, card)

    async def _charge(
        self,
        record: ChatSessionRecord,
        state: ChatState,
        dialogue: Dialogue,
        payment_method_id: str,
        card: str,
    ) -> Turn:
        assert record.amount is not None and record.currency is not None
        state.attempts += 1
        key = f"chat:{record.id}:{state.attempts}"
        ctx = WriteContext(
            database=self.database,
            settings=self.settings,
            merchant=MerchantContext(record.merchant_id, "payment chat", KeyKind.SECRET),
            idempotency_key=key,
            fingerprint=idempotency.request_fingerprint(
                "POST", f"/chat/{record.id}/pay", {"payment_method": payment_method_id}
            ),
        )
        return_url = f"/pay/{record.id}"
        if state.payment_intent_id is None:
            response = await self.flows.create_and_maybe_confirm(
                ctx,
                PaymentIntentCreate(
                    amount=record.amount,
                    currency=record.currency,
                    payment_method=payment_method_id,
                    confirm=True,
                    description=record.description,
                    metadata={"chat_session": record.id},
                    return_url=return_url,
                ),
            )
        else:
            response = await self.flows.confirm(
                ctx,
                state.payment_intent_id,
                PaymentIntentConfirm(payment_method=payment_method_id, return_url=return_url),
            )
        body = json.loads(bytes(response.body))
        amount = dialogue.purchase.display()
        if response.status_code == 200:
            state.payment_intent_id = body["id"]
            status = body["status"]
            if status in ("succeeded", "requires_capture"):
                state.outcome = "succeeded"
                return Turn(
                    f"Payment of {amount} with your {card} succeeded. Thank you!",
                    ChatStatus.COMPLETED,
                    None,
                )
            if status == "requires_action":
                url = body["next_action"]["redirect_to_url"]["url"]
                state.outcome = "requires_action"
                state.next_action_url = url
                return Turn(
                    "Your bank wants to confirm this payment is yours (3-D Secure). Open this "
                    f"link to finish: {url}",
                    ChatStatus.COMPLETED,
                    None,
                )
            state.outcome = "processing"
            return Turn(
                f"Your payment of {amount} is being processed; the merchant will confirm it.",
                ChatStatus.COMPLETED,
                None,
            )
        error = body.get("error", {})
        intent = error.get("payment_intent") or {}
        if intent.get("id"):
            state.payment_intent_id = intent["id"]
        await dialogue.forget_card(state)
        if response.status_code == 402:
            reason = str(error.get("message") or "Your card was declined.")
            state.outcome = "declined"
            lead = f"The payment didn't go through: {reason} Nothing was charged."
        else:
            state.outcome = "unavailable"
            lead = "I couldn't reach the payment processor, so nothing was charged."
        if state.attempts >= MAX_PAYMENT_ATTEMPTS:
            return Turn(
                f"{lead} That was the last try for this session; please contact the merchant.",
                ChatStatus.ERROR,
                None,
            )
        return Turn(
            f"{lead} You can try another card: what is its number? (Or say cancel to stop.)",
            ChatStatus.COLLECTING,
            Field.CARD,
        )

    # ------------------------------------------------------------------ the model

    async def _phrase(self, template: str, state: ChatState) -> str:
        """The template in the model's words; the template itself on any problem."""
        if self.llm is None:
            return template
        context = tuple(
            LlmMessage(Role.USER if h["role"] == "customer" else Role.ASSISTANT, h["text"])
            for h in state.history[-6:]
        )
        request = LlmRequest(
            system=PHRASE_SYSTEM,
            messages=(*context, LlmMessage(Role.USER, f"Reply to rewrite: {template}")),
        )
        try:
            response = await asyncio.wait_for(
                self.llm.complete(request), timeout=self.settings.llm_timeout_seconds
            )
        except (LlmError, TimeoutError) as exc:
            logger.info("llm phrasing skipped: %s", type(exc).__name__)
            return template
        text = response.text.strip()
        numbers_ok = set(_NUMBER.findall(text)) <= set(_NUMBER.findall(template))
        if not text or redact_pan(text) != text or not numbers_ok:
            return template
        return text

    async def _classify(self, masked_text: str) -> Topic | None:
        """What the parser could not read, as a question topic (never a value, never a
        cancel or a yes: the model does not decide anything)."""
        assert self.llm is not None
        request = LlmRequest(
            system=CLASSIFY_SYSTEM,
            messages=(LlmMessage(Role.USER, redact_pan(masked_text)),),
            json_output=True,
            max_tokens=30,
            temperature=0.0,
        )
        try:
            response = await asyncio.wait_for(
                self.llm.complete(request), timeout=self.settings.llm_timeout_seconds
            )
            answer = response.json()
        except (LlmError, TimeoutError) as exc:
            logger.info("llm classification skipped: %s", type(exc).__name__)
            return None
        intent = answer.get("intent") if isinstance(answer, dict) else None
        return _CLASSIFIED_TOPICS.get(str(intent))


def _is_greeting_only(message: str) -> bool:
    return message.strip().lower().strip(" !.,") in {"hi", "hello", "hey", "start", "begin"}


def build_chat_service(
    settings: Settings,
    *,
    database: Database,
    vault: Vault,
    cvc_store: CvcStore,
    flows: PaymentFlows,
    llm: LlmClient | None = None,
) -> ChatService:
    return ChatService(
        settings=settings,
        database=database,
        store=build_chat_store(settings, database),
        vault=vault,
        cvc_store=cvc_store,
        flows=flows,
        llm=llm,
    )
