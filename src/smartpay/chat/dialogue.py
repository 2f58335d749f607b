"""The conversation: which field to ask next, what a message changes, and what to say.

``Dialogue.turn`` applies one parsed message to a ``ChatState`` and returns the reply
template. It holds no card data: the card number is handed to a ``CardKeeper`` (which
seals it with the vault's encryption) and the CVC to the CVC store, as soon as they are
read. The state keeps the brand, the last four digits, the expiry and the name only.

Statuses and the fields asked follow one table (``STATUS_TRANSITIONS``); a message can
never move a finished session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from smartpay.cards.validation import Brand
from smartpay.chat import checks
from smartpay.chat.parser import FIELD_ORDER, Field, Intent, Parsed, Topic, field_named, parse
from smartpay.kit.money import currency_exponent

# After this many refused answers for one field the session ends in ``error``: someone
# guessing card numbers or codes should not get unlimited tries (the rule).
MAX_FIELD_FAILURES = 5
# Payment attempts (declines) one session may make before it ends in ``error``.
MAX_PAYMENT_ATTEMPTS = 5
# History entries kept per session: enough for a model to phrase a reply in context.
MAX_HISTORY = 40


class ChatStatus(StrEnum):
    COLLECTING = "collecting"  # asking for the name, card, expiry or CVC
    CONFIRMING = "confirming"  # showing the masked summary, waiting for yes or a change
    COMPLETED = "completed"  # paid, saved, or handed to 3-D Secure: nothing more to do here
    CANCELLED = "cancelled"  # the customer (or the merchant's DELETE) stopped it
    ERROR = "error"  # too many failures, or the session can no longer go on


STATUS_TRANSITIONS: dict[ChatStatus, frozenset[ChatStatus]] = {
    ChatStatus.COLLECTING: frozenset(
        {ChatStatus.COLLECTING, ChatStatus.CONFIRMING, ChatStatus.CANCELLED, ChatStatus.ERROR}
    ),
    ChatStatus.CONFIRMING: frozenset(
        {
            ChatStatus.COLLECTING,
            ChatStatus.CONFIRMING,
            ChatStatus.COMPLETED,
            ChatStatus.CANCELLED,
            ChatStatus.ERROR,
        }
    ),
    ChatStatus.COMPLETED: frozenset(),
    ChatStatus.CANCELLED: frozenset(),
    ChatStatus.ERROR: frozenset(),
}
FINISHED = frozenset({ChatStatus.COMPLETED, ChatStatus.CANCELLED, ChatStatus.ERROR})


class CardKeeper(Protocol):
    """Where the card data goes the moment it is read."""

    async def seal_pan(self, number: str) -> dict[str, Any]:
        """The number sealed by the vault's encryption (ciphertext only)."""
        ...

    async def hold_cvc(self, cvc: str) -> None:
        """Keep the CVC in the CVC store until the payment (replaces an earlier one)."""
        ...

    async def drop_cvc(self) -> None: ...


@dataclass(slots=True)
class ChatState:
    """Everything a session remembers. Never a card number or a CVC in clear."""

    name: str | None = None
    brand: str | None = None
    last4: str | None = None
    sealed_pan: dict[str, Any] | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    cvc_held: bool = False
    failures: dict[str, int] = field(default_factory=dict)
    history: list[dict[str, str]] = field(default_factory=list)
    asking_change: bool = False
    attempts: int = 0
    payment_method_id: str | None = None
    payment_intent_id: str | None = None
    outcome: str | None = None
    next_action_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChatState:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def has(self, wanted: Field) -> bool:
        if wanted is Field.NAME:
            return self.name is not None
        if wanted is Field.CARD:
            return self.sealed_pan is not None
        if wanted is Field.EXPIRY:
            return self.exp_month is not None
        if wanted is Field.CVV:
            return self.cvc_held
        return False

    def missing(self) -> Field | None:
        return next((f for f in FIELD_ORDER if not self.has(f)), None)

    def remember(self, role: str, text: str) -> None:
        self.history.append({"role": role, "text": text})
        del self.history[:-MAX_HISTORY]

    def masked(self) -> dict[str, Any]:
        """The collected data as ``GET /session`` shows it."""
        card = None
        if self.last4 is not None:
            card = {"brand": self.brand, "last4": self.last4, "display": self.card_display()}
        expiry = None
        if self.exp_month is not None and self.exp_year is not None:
            expiry = f"{self.exp_month:02d}/{self.exp_year % 100:02d}"
        return {
            "name": self.name,
            "card": card,
            "expiry": expiry,
            "cvv": "•••" if self.cvc_held else None,
            "payment_method": self.payment_method_id,
            "payment_intent": self.payment_intent_id,
            "outcome": self.outcome,
            "next_action_url": self.next_action_url,
        }

    def card_display(self) -> str:
        brand = checks.BRAND_NAMES.get(self.brand or "", "Card")
        return f"{brand} •••• {self.last4}"


@dataclass(frozen=True, slots=True)
class Purchase:
    """What the session pays for; ``amount`` None: save the card for later."""

    amount: int | None
    currency: str | None
    description: str | None

    def display(self) -> str:
        if self.amount is None or self.currency is None:
            return ""
        exponent = currency_exponent(self.currency)
        value = f"{self.amount / 10**exponent:.{exponent}f}" if exponent else str(self.amount)
        return f"{value} {self.currency.upper()}"


@dataclass(slots=True)
class Turn:
    """The result of one message: what to say, where the session now is, and whether the
    customer just confirmed (the service then runs the payment)."""

    reply: str
    status: ChatStatus
    current: Field | None
    confirmed: bool = False


_PROMPTS = {
    Field.NAME: "What is the name on the card?",
    Field.CARD: "What is the card number?",
    Field.EXPIRY: "What is the expiry date on the card (MM/YY)?",
    Field.CVV: "What is the security code (CVC)? It's the 3 digits on the back of the card.",
}
_AMEX_CVC_PROMPT = (
    "What is the security code (CID)? On American Express it's the 4 digits on the front."
)
_NOT_UNDERSTOOD = {
    Field.NAME: "That doesn't look like a name: a name on a card has letters only (apostrophes, "
    "hyphens and accents are fine).",
    Field.CARD: "That doesn't look like a card number: it's the 12 to 19 digits on the card.",
    Field.EXPIRY: "I couldn't read that as an expiry date. Please type it as MM/YY, for "
    "example 08/29.",
    Field.CVV: "The security code is digits only.",
}
ANSWERS = {
    Topic.CVC: "The security code proves the card is in your hands. It is used once, for this "
    "payment, and never stored: it's held in memory only until the card is authorized, "
    "then wiped.",
    Topic.SECURITY: "Yes. Your card number goes straight into an encrypted vault (AES-256); "
    "this chat only keeps the last four digits, the security code is never stored, and "
    "no card number is written to any log.",
    Topic.EXPIRY: "The expiry date is printed on the card as MM/YY, for example 08/29.",
    Topic.NAME: "Type the name exactly as it is printed on the card.",
    Topic.CARD: "The card number is the long number on your card, 12 to 19 digits; spaces "
    "or dashes are fine.",
    Topic.HELP: "I'm collecting your card details: the name on the card, the card number, "
    "the expiry date and the security code. Type them one at a time or all at once, "
    "correct anything (say 'the expiry is 11/28', 'wrong card' or 'go back'), or say "
    "'cancel' to stop.",
}
CANCELLED_REPLY = "OK, I've cancelled this. Nothing was charged and your card details are gone."
FINISHED_REPLY = {
    ChatStatus.COMPLETED: "This session is complete. Start a new one to make another payment.",
    ChatStatus.CANCELLED: "This session was cancelled. Start a new one to pay.",
    ChatStatus.ERROR: "This session has ended. Please start a new one.",
}


class Dialogue:
    def __init__(
        self,
        purchase: Purchase,
        keeper: CardKeeper,
        *,
        accepted_brands: frozenset[str] = frozenset(),
        classify: Callable[[str], Awaitable[Topic | None]] | None = None,
    ) -> None:
        self.purchase = purchase
        self.keeper = keeper
        self.accepted_brands = accepted_brands
        # Asked only about messages the parser could not read (the optional model).
        self.classify = classify

    # ------------------------------------------------------------------ prompts

    def greeting(self) -> str:
        if self.purchase.amount is not None:
            what = f" for {self.purchase.description}" if self.purchase.description else ""
            intro = f"Hi! I'll take your card details to pay {self.purchase.display()}{what}."
        else:
            intro = "Hi! I'll take your card details and save the card for later payments."
        return (
            f"{intro} You can type everything at once, separated by commas: name, card "
            f"number, expiry (MM/YY) and security code. {_PROMPTS[Field.NAME]}"
        )

    def prompt(self, state: ChatState) -> str:
        wanted = state.missing()
        if wanted is None:
            return self.summary(state)
        if wanted is Field.CVV and state.brand == Brand.AMEX:
            return _AMEX_CVC_PROMPT
        return _PROMPTS[wanted]

    def summary(self, state: ChatState) -> str:
        expiry = f"{state.exp_month:02d}/{(state.exp_year or 0) % 100:02d}"
        card = f"{state.name}, {state.card_display()}, {expiry}"
        if self.purchase.amount is not None:
            what = f" for {self.purchase.description}" if self.purchase.description else ""
            return f"{card}. Shall I pay {self.purchase.display()}{what}? (yes/no)"
        return f"{card}. Shall I save this card? (yes/no)"

    def answer(self, topic: Topic) -> str:
        if topic is Topic.AMOUNT:
            if self.purchase.amount is None:
                return "Nothing is charged now: the card is saved for later payments."
            what = f" for {self.purchase.description}" if self.purchase.description else ""
            return f"You're paying {self.purchase.display()}{what}."
        return ANSWERS[topic]

    # ------------------------------------------------------------------ turns

    def where(self, state: ChatState) -> tuple[ChatStatus, Field]:
        wanted = state.missing()
        if wanted is None:
            return ChatStatus.CONFIRMING, Field.CONFIRMATION
        return ChatStatus.COLLECTING, wanted

    def _asking(self, state: ChatState, reply: str) -> Turn:
        status, current = self.where(state)
        if state.asking_change and current is Field.CONFIRMATION:
            prompt = (
                "What would you like to change: the name, card number, expiry or security code?"
            )
        else:
            prompt = self.prompt(state)
        return Turn(f"{reply} {prompt}".strip(), status, current)

    async def turn(self, state: ChatState, message: str) -> tuple[Turn, Parsed]:
        _status, current = self.where(state)
        parsed = parse(
            message,
            current,
            card_known=state.sealed_pan is not None,
            amex=state.brand == Brand.AMEX,
        )
        return await self._apply(state, parsed, current), parsed

    async def _apply(self, state: ChatState, parsed: Parsed, current: Field) -> Turn:
        if parsed.intent is Intent.CANCEL:
            await self.forget_card(state)
            return Turn(CANCELLED_REPLY, ChatStatus.CANCELLED, None)
        if parsed.intent is Intent.QUESTION and parsed.topic is not None:
            return self._asking(state, self.answer(parsed.topic))
        if parsed.intent is Intent.GREETING:
            return self._asking(state, "Hello!")
        if parsed.intent is Intent.BACK:
            await self._go_back(state, current)
            return self._asking(state, "OK, let's go back.")
        if parsed.intent is Intent.CHANGE and parsed.change is not None and not parsed.has_values:
            await self._clear(state, parsed.change)
            state.asking_change = False
            if parsed.change is Field.CARD:
                return Turn(
                    "No problem, let's use another card. What is the card number?",
                    *self.where(state),
                )
            return Turn(f"Sure. {_PROMPTS[parsed.change]}", *self.where(state))
        if parsed.has_values:
            return await self._apply_values(state, parsed, current)
        if self.classify is not None and parsed.intent is Intent.NONE and parsed.residue:
            topic = await self.classify(parsed.masked_text)
            if topic is not None:
                return self._asking(state, self.answer(topic))
        if current is Field.CONFIRMATION:
            named = field_named(parsed.residue) if state.asking_change else None
            if named is not None:
                # "the expiry", answering "what would you like to change?"
                await self._clear(state, named)
                state.asking_change = False
                return Turn(f"Sure. {_PROMPTS[named]}", *self.where(state))
            if parsed.intent is Intent.YES and not state.asking_change:
                return Turn("", ChatStatus.CONFIRMING, Field.CONFIRMATION, confirmed=True)
            if parsed.intent is Intent.NO or parsed.intent is Intent.YES:
                state.asking_change = True
                return self._asking(state, "No problem.")
            return Turn(
                "Please answer yes to go ahead, or tell me what to change. " + self.summary(state),
                ChatStatus.CONFIRMING,
                Field.CONFIRMATION,
            )
        if parsed.intent is Intent.NO and current is Field.CARD and state.attempts:
            return self._asking(state, "OK. If you'd like to stop, say cancel.")
        return self._refuse(state, current, _NOT_UNDERSTOOD[current])

    async def _apply_values(self, state: ChatState, parsed: Parsed, current: Field) -> Turn:
        """Take every value in the message; the first refused one is explained and asked
        again (the ones before it are kept)."""
        state.asking_change = False
        problems: list[tuple[Field, str]] = []
        if parsed.name is not None:
            state.name = parsed.name
        elif parsed.change is Field.NAME:
            problems.append((Field.NAME, _NOT_UNDERSTOOD[Field.NAME]))
        if parsed.pan_attempted and parsed.pan is not None:
            checked = checks.check_number(parsed.pan, self.accepted_brands)
            if isinstance(checked, str):
                problems.append((Field.CARD, checked))
            else:
                if state.sealed_pan is not None and parsed.cvc is None:
                    # A new card needs its own security code.
                    await self.keeper.drop_cvc()
                    state.cvc_held = False
                state.sealed_pan = await self.keeper.seal_pan(checked.number)
                state.brand, state.last4 = checked.brand, checked.last4
        if parsed.expiry is not None:
            month, year = parsed.expiry
            reason = checks.check_expiry(month, checks.full_year(year))
            if reason is None:
                state.exp_month, state.exp_year = month, checks.full_year(year)
            else:
                problems.append((Field.EXPIRY, reason))
        elif parsed.expiry_attempted:
            problems.append((Field.EXPIRY, _NOT_UNDERSTOOD[Field.EXPIRY]))
        if parsed.cvc is not None:
            reason = checks.check_cvc(parsed.cvc, state.brand)
            if reason is None:
                await self.keeper.hold_cvc(parsed.cvc)
                state.cvc_held = True
            else:
                problems.append((Field.CVV, reason))
        if problems:
            wanted, reason = problems[0]
            return self._refuse(state, wanted, reason)
        for accepted in FIELD_ORDER:
            if state.has(accepted):
                state.failures.pop(accepted.value, None)
        return self._asking(state, "Thanks.")

    def _refuse(self, state: ChatState, wanted: Field, reason: str) -> Turn:
        count = state.failures.get(wanted.value, 0) + 1
        state.failures[wanted.value] = count
        if count >= MAX_FIELD_FAILURES:
            return Turn(
                f"{reason} That's {MAX_FIELD_FAILURES} tries for the {_FIELD_WORDS[wanted]}, so "
                "for your security I've ended this session. Please start a new one.",
                ChatStatus.ERROR,
                None,
            )
        status, current = self.where(state)
        prompt = _PROMPTS[wanted] if wanted is not current else self.prompt(state)
        if wanted is Field.CVV and state.brand == Brand.AMEX:
            prompt = _AMEX_CVC_PROMPT
        return Turn(f"{reason} {prompt}", status, current)

    async def _go_back(self, state: ChatState, current: Field) -> None:
        if current is Field.CONFIRMATION:
            target = FIELD_ORDER[-1]
        else:
            index = FIELD_ORDER.index(current)
            target = FIELD_ORDER[max(index - 1, 0)]
        await self._clear(state, target)

    async def _clear(self, state: ChatState, target: Field) -> None:
        if target is Field.NAME:
            state.name = None
        elif target is Field.CARD:
            # The security code belongs to the card: a new card needs its own.
            state.sealed_pan = state.brand = state.last4 = None
            await self.keeper.drop_cvc()
            state.cvc_held = False
        elif target is Field.EXPIRY:
            state.exp_month = state.exp_year = None
        elif target is Field.CVV:
            await self.keeper.drop_cvc()
            state.cvc_held = False

    async def forget_card(self, state: ChatState) -> None:
        """Drop every card detail (cancel, error, expiry, after a decline)."""
        state.sealed_pan = state.brand = state.last4 = None
        state.exp_month = state.exp_year = None
        if state.cvc_held:
            await self.keeper.drop_cvc()
        state.cvc_held = False


_FIELD_WORDS = {
    Field.NAME: "name",
    Field.CARD: "card number",
    Field.EXPIRY: "expiry date",
    Field.CVV: "security code",
    Field.CONFIRMATION: "confirmation",
}
