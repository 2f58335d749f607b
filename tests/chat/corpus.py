"""The dialogue corpus: conversations as people type them, each with the status it must
end in. Built from tables so every case of issue 6 appears many times over."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import cycle

VISA = "4242424242424242"
MASTERCARD = "5555555555554444"
AMEX = "378282246310005"
DECLINE_FUNDS = "4000000000009995"
DECLINE_GENERIC = "4000000000000002"
THREE_D_SECURE = "4000002760003184"
# CVCs that cannot occur by chance in the amounts, dates and ids the test produces.
CVCS = ("737", "318", "592", "864", "419")
AMEX_CVCS = ("7373", "4181")


@dataclass(frozen=True)
class Conversation:
    label: str
    messages: tuple[str, ...]
    expected: str  # completed | cancelled | error
    amount: int | None = 2000
    outcome: str | None = None  # succeeded | saved | requires_action (for completed)

    @property
    def secrets(self) -> list[str]:
        return [c for c in (*CARDS_USED, *CVCS, *AMEX_CVCS) if any(c in m for m in self.messages)]


CARDS_USED = (VISA, MASTERCARD, AMEX, DECLINE_FUNDS, DECLINE_GENERIC, THREE_D_SECURE)

NAMES = (
    "John Smith",
    "Seán O'Brien",
    "Mary-Jane Watson",
    "Zoë Brontë-Ángel",
    "Cher",
    "Ono",
    "Jon Snow",
    "Peter Stopford",
    "my name is Renée D'Arcy",
    "José Álvarez",
)
EXPIRIES = (
    "12/27",
    "12/2027",
    "1227",
    "12-27",
    "12 / 27",
    "Dec 2027",
    "december 27",
    "it expires 11/28",
)


def _spaced(pan: str) -> str:
    return " ".join(pan[i : i + 4] for i in range(0, len(pan), 4))


def _dashed(pan: str) -> str:
    return "-".join(pan[i : i + 4] for i in range(0, len(pan), 4))


PAN_STYLES: tuple[Callable[[str], str], ...] = (
    lambda p: p,
    _spaced,
    _dashed,
    lambda p: f"my card number is {_spaced(p)} thanks",
    lambda p: f"sure, it's {p}",
)


def _card_and_cvc(index: int) -> tuple[str, str]:
    if index % 7 == 3:
        return AMEX, AMEX_CVCS[index % 2]
    if index % 3 == 1:
        return MASTERCARD, CVCS[index % len(CVCS)]
    return VISA, CVCS[index % len(CVCS)]


def _step_by_step() -> list[Conversation]:
    out = []
    styles = cycle(PAN_STYLES)
    index = 0
    for name in NAMES:
        for expiry in EXPIRIES:
            pan, cvc = _card_and_cvc(index)
            amount = 2000 if index % 2 == 0 else None
            yes = ("yes", "yep", "sure", "go ahead", "yes please")[index % 5]
            out.append(
                Conversation(
                    f"steps-{index}",
                    (name, next(styles)(pan), expiry, cvc, yes),
                    "completed",
                    amount,
                    "succeeded" if amount else "saved",
                )
            )
            index += 1
    return out


def _all_at_once() -> list[Conversation]:
    shapes = (
        "John Smith, {pan}, 12/27, {cvc}",
        "{name}, {spaced}, 11/28, {cvc}",
        "{name} {dashed} exp 12/2027 cvc {cvc}",
        "Name: {name}; card {pan}; expiry Dec 2027; code {cvc}",
        "{name}, {pan}, 1227, {cvc}",
    )
    out = []
    for index in range(20):
        pan, cvc = _card_and_cvc(index)
        name = NAMES[index % 8].removeprefix("my name is ")
        message = shapes[index % len(shapes)].format(
            name=name, pan=pan, spaced=_spaced(pan), dashed=_dashed(pan), cvc=cvc
        )
        amount = 2000 if index % 2 else None
        out.append(
            Conversation(
                f"all-at-once-{index}",
                (message, "yes"),
                "completed",
                amount,
                "succeeded" if amount else "saved",
            )
        )
    return out


def _corrections() -> list[Conversation]:
    v, c = VISA, CVCS[0]
    m, mc = MASTERCARD, CVCS[1]
    flows = [
        ("John Smith", v, "12/27", "sorry, the expiry is 11/28", c, "yes"),
        ("John Smith", v, "12/27", c, "sorry, the expiry is 11/28", "yes"),
        ("John Smith", v, "wrong card", m, "12/27", mc, "yes"),
        ("John Smith", v, "12/27", c, "wrong card", m, mc, "yes"),
        ("Jhon Smtih", "change the name", "John Smith", v, "12/27", c, "yes"),
        ("John Smith", v, "12/27", c, "change the name", "Jane Smith", "yes"),
        ("John Smith", "go back", "Jane Smith", v, "12/27", c, "yes"),
        ("John Smith", v, "12/27", "go back", v, "12/27", c, "yes"),
        ("John Smith", v, "12/27", c, "no", "the expiry", "11/29", "yes"),
        ("John Smith", v, "12/27", c, "no", "card number", m, mc, "yes"),
        ("John Smith", v, "12/27", c, "go back", c, "yes"),
        ("John Smith", v, "12/27", c, "no", "the name", "Jon Snow", "yes"),
        ("John Smith", v, "12/27", c, f"actually the cvc is {CVCS[2]}", "yes"),
        ("Ono", v, "12/27", c, "no", "yes", "the expiry", "1228", "yes"),
        ("John Smith", f"{v} 12/27", c, "yes"),
        ("Snow", v, "13/27", "12/27", c, "yes"),
        ("Stopford", "4242424242424241", v, "12/27", c, "yes"),
        ("Jon Snow", v, "01/20", "12/27", c, "yes"),
        ("Ann Lee", AMEX, "12/27", "123", AMEX_CVCS[0], "yes"),
        ("Ann Lee", v, "12/27", "12", c, "yes"),
    ]
    return [
        Conversation(f"correction-{i}", tuple(f), "completed", 2000, "succeeded")
        for i, f in enumerate(flows)
    ]


def _questions() -> list[Conversation]:
    qs = (
        "why do you need the CVC?",
        "is this secure?",
        "help",
        "where do I find the expiry date?",
        "how much is it?",
        "what name should I use?",
        "Is my card stored safely?",
        "what is a cvv?",
        "?",
        "can I use a mastercard?",
    )
    out = []
    for i, question in enumerate(qs):
        messages = ["John Smith", VISA, "12/27", CVCS[0], "yes"]
        messages.insert(1 + i % 4, question)
        out.append(Conversation(f"question-{i}", tuple(messages), "completed", 2000, "succeeded"))
    return out


def _cancels() -> list[Conversation]:
    phrases = (
        "cancel",
        "stop",
        "I changed my mind",
        "Cancel.",
        "please cancel",
        "stop please",
        "i've changed my mind",
        "never mind",
        "cancel the payment",
        "forget it",
        "I don't want to pay",
        "ok, cancel",
        "STOP!",
        "actually, cancel it",
        "quit",
    )
    out = []
    for i, phrase in enumerate(phrases):
        before = ["John Smith", VISA, "12/27", CVCS[0]][: i % 5]
        out.append(Conversation(f"cancel-{i}", (*before, phrase), "cancelled", 2000))
    # "no" to the yes/no question is not a cancel; cancel afterwards is.
    out.append(
        Conversation(
            "cancel-after-no", ("Ono", VISA, "12/27", CVCS[1], "no", "cancel"), "cancelled"
        )
    )
    out.append(
        Conversation(
            "cancel-after-decline",
            ("Jo Ng", DECLINE_FUNDS, "12/27", CVCS[0], "yes", "stop"),
            "cancelled",
        )
    )
    return out


def _errors() -> list[Conversation]:
    return [
        Conversation("error-luhn", ("John Smith", *["4242424242424241"] * 5), "error"),
        Conversation("error-expired", ("John Smith", VISA, *["01/21"] * 5), "error"),
        Conversation("error-amex-cvc", ("John Smith", AMEX, "12/27", *["123"] * 5), "error"),
        Conversation("error-name", ("1234", "5678", "@@@", "9", "x1"), "error"),
        Conversation(
            "error-garbage-card", ("John Smith", "abc", "zzz", "no idea", "42", "x"), "error"
        ),
        Conversation(
            "error-mixed-tries", ("Ono", VISA, "13/27", "00/27", "99/99", "1/1", "ab"), "error"
        ),
    ]


def _payments() -> list[Conversation]:
    return [
        Conversation(
            "decline-then-retry",
            ("John Smith", DECLINE_FUNDS, "12/27", CVCS[0], "yes", VISA, "12/27", CVCS[1], "yes"),
            "completed",
            2000,
            "succeeded",
        ),
        Conversation(
            "decline-twice-then-retry",
            (
                f"John Smith, {DECLINE_GENERIC}, 12/27, {CVCS[0]}",
                "yes",
                f"{DECLINE_FUNDS} 11/28 {CVCS[1]}",
                "yes",
                f"{MASTERCARD}, 12/28, {CVCS[2]}",
                "yes",
            ),
            "completed",
            2000,
            "succeeded",
        ),
        Conversation(
            "three-d-secure",
            ("John Smith", THREE_D_SECURE, "12/27", CVCS[3], "yes"),
            "completed",
            4999,
            "requires_action",
        ),
        Conversation(
            "decline-no-then-card",
            (
                "John Smith",
                DECLINE_FUNDS,
                "12/27",
                CVCS[0],
                "yes",
                "no",
                VISA,
                "12/27",
                CVCS[4],
                "yes",
            ),
            "completed",
            2000,
            "succeeded",
        ),
    ]


def _codes_out_of_turn() -> list[Conversation]:
    """The security code typed before it is asked for, or where nothing expects a number:
    taken when it can be read as the code, and masked in the history either way."""
    return [
        Conversation(
            "expiry-and-code-at-the-expiry-question",
            ("Ann Lee", _spaced(VISA), f"12/29 {CVCS[0]}", "yes"),
            "completed",
            2000,
            "succeeded",
        ),
        Conversation(
            "mmyy-and-code-at-the-expiry-question",
            ("Ann Lee", MASTERCARD, f"1229, {CVCS[1]}", "yes"),
            "completed",
            None,
            "saved",
        ),
        Conversation(
            "named-code-at-the-expiry-question",
            ("Ann Lee", VISA, f"the code is {CVCS[2]}", "12/29", "yes"),
            "completed",
            2000,
            "succeeded",
        ),
        Conversation(
            "code-at-the-name-question",
            (CVCS[3], "Ann Lee", VISA, "12/29", CVCS[3], "yes"),
            "completed",
            2000,
            "succeeded",
        ),
        Conversation(
            "code-at-the-confirmation",
            ("Ann Lee", AMEX, "12/29", AMEX_CVCS[0], f"it is {AMEX_CVCS[0]}", "yes"),
            "completed",
            2000,
            "succeeded",
        ),
    ]


def corpus() -> list[Conversation]:
    return [
        *_step_by_step(),
        *_all_at_once(),
        *_corrections(),
        *_questions(),
        *_cancels(),
        *_errors(),
        *_payments(),
        *_codes_out_of_turn(),
    ]
