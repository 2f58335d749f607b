"""Reads one chat message the way people write: card numbers with spaces or dashes or
inside a sentence, several fields at once, expiry dates in many shapes, names with
apostrophes, hyphens and accents, corrections, questions and a clear wish to cancel.

Pure functions, no I/O. The parser finds values and intents; it never decides whether
a value is valid (``chat.checks`` asks the one card validator). Its ``masked_text`` is
the message with every card-number-like run and CVC cut out: the only form of the
message that may be stored, logged, kept in the history or shown to a model.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

from smartpay.cards.validation import MAX_PAN_LENGTH, MIN_PAN_LENGTH, luhn_valid
from smartpay.chat.checks import check_number


class Field(StrEnum):
    NAME = "name"  # the name printed on the card
    CARD = "card"  # the card number (PAN)
    EXPIRY = "expiry"  # expiry month and year
    CVV = "cvv"  # the security code (CVC/CVV/CID)
    CONFIRMATION = "confirmation"  # the masked summary is shown: yes to pay, or a change


# The order the bot asks in; "go back" moves one step towards the start.
FIELD_ORDER = (Field.NAME, Field.CARD, Field.EXPIRY, Field.CVV)


class Intent(StrEnum):
    NONE = "none"  # only values (or nothing the parser understood)
    CANCEL = "cancel"  # a clear wish to stop: cancel, stop, I changed my mind
    BACK = "back"  # go back one step
    CHANGE = "change"  # change one field (``Parsed.change``), with or without its new value
    QUESTION = "question"  # a question (``Parsed.topic``); answered, state kept
    YES = "yes"
    NO = "no"
    GREETING = "greeting"


class Topic(StrEnum):
    CVC = "cvc"
    SECURITY = "security"
    EXPIRY = "expiry"
    NAME = "name"
    CARD = "card"
    AMOUNT = "amount"
    HELP = "help"


# A run of digits with single spaces or dashes between groups: a card number as typed.
# Eight digits or more is treated as a card-number attempt and always cut out of the
# text, even when too short to be valid: a partial PAN is still card data.
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ \-]?\d)+(?!\d)")
# A run without separators this long is a card-number attempt (a mistyped, short PAN).
MIN_UNSEPARATED_ATTEMPT = 8
_GROUP_SPLIT = re.compile(r"[ \-]")

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_SLASH_EXPIRY = re.compile(r"(?<![\d/])(\d{1,2})\s*[/\-]\s*(\d{4}|\d{2})(?![\d/])")
_NAMED_EXPIRY = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+(?:of\s+)?'?(\d{4}|\d{2})\b",
    re.IGNORECASE,
)
_MMYY = re.compile(r"(?<![\d/])(0[1-9]|1[0-2])(\d{2})(?![\d/])")
# "12 27" is an expiry only when it is the whole answer to the expiry question.
_SPACED_EXPIRY = re.compile(r"(\d{1,2})\s+(\d{4}|\d{2})")
_SHORT_NUMBER = re.compile(r"(?<![\d/])\d{1,7}(?![\d/])")
_THREE_OR_FOUR = re.compile(r"(?<![\d/])\d{3,4}(?![\d/])")

_CVC_WORDS = re.compile(r"\b(cvc|cvv|cvv2|cvc2|cid|security\s+code|card\s+code|code)\b", re.I)

# Words that name a field in a correction ("change the name", "the expiry is wrong").
_FIELD_WORDS: tuple[tuple[Field, re.Pattern[str]], ...] = (
    (Field.CVV, re.compile(r"\b(cvc|cvv|cvv2|cid|security\s+code|code)\b")),
    (Field.EXPIRY, re.compile(r"\b(expiry|expiration|exp|expires|expiry\s+date|date)\b")),
    (Field.CARD, re.compile(r"\b(card|card\s+number|number|pan)\b")),
    (Field.NAME, re.compile(r"\b(name|cardholder|holder)\b")),
)
_CORRECTION_WORDS = re.compile(
    r"\b(change|fix|correct|update|edit|redo|re-?enter|re-?type|wrong|mistake|typo|"
    r"incorrect|actually|sorry|oops|meant|instead|new|different|another|other)\b"
)

# Fillers that may lead a message without changing its meaning ("ok, cancel").
_LEADING_FILLER = re.compile(
    r"^(?:(?:oh|ok|okay|um+|hmm+|well|actually|sorry|please|no|nah|hey|so|just|"
    r"you know what|wait)\b[\s,.!]*)+"
)
_CANCEL = re.compile(
    r"^(?:(?:i\s+(?:want|would\s+like|wanna)\s+to\s+|let'?s\s+|please\s+)?"
    r"(?:cancel|stop|quit|abort|exit|end|terminate)"
    r"(?:\s+(?:it|this|that|now|please|everything|all|the\s+payment|the\s+order|"
    r"the\s+chat|the\s+session|the\s+transaction|payment|order|chat|session|here|"
    r"right\s+now|thanks|thank\s+you))*"
    r"|i\s*(?:'ve|\s+have)?\s*changed\s+my\s+mind(?:\s+.*)?"
    r"|changed\s+my\s+mind"
    r"|never\s*mind|forget\s+it|forget\s+about\s+it"
    r"|i\s+(?:don'?t|do\s+not)\s+want\s+to\s+(?:pay|continue|go\s+on|do\s+this|proceed)"
    r"(?:\s+(?:anymore|any\s+more|after\s+all))?"
    r"|no\s+(?:thanks|thank\s+you)[\s,]+(?:cancel|stop).*)$"
)
_BACK = re.compile(
    r"^(?:(?:can\s+we\s+|let'?s\s+|please\s+)?go\s+back(?:\s+(?:one\s+step|a\s+step))?|"
    r"back|previous(?:\s+(?:step|question|field))?|undo|step\s+back)$"
)
_YES = re.compile(
    r"^(?:yes|y|yeah|yea|yep|yup|sure|correct|confirm|confirmed|ok|okay|go\s+ahead|"
    r"pay|pay\s+now|looks\s+good|looks\s+right|that'?s\s+right|that'?s\s+correct|right|"
    r"do\s+it|please\s+do|absolutely|of\s+course|yes\s+please|yes\s+pay|"
    r"yes\s+that'?s\s+(?:right|correct)|all\s+good|perfect|affirmative|save\s+it|"
    r"yes\s+save\s+it)$"
)
_NO = re.compile(
    r"^(?:no|n|nope|nah|not\s+right|not\s+correct|that'?s\s+wrong|that'?s\s+not\s+right|"
    r"incorrect|wrong|no\s+thanks|not\s+quite|no\s+wait)$"
)
_GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|yo|good\s+(?:morning|afternoon|evening)|greetings|"
    r"hi\s+there|hello\s+there|start|begin)$"
)
_QUESTION_START = re.compile(
    r"^(?:why|what|what'?s|how|where|is|are|can|could|do|does|will|who|which|should|"
    r"would|when|explain|tell\s+me)\b"
)
_HELP = re.compile(r"^(?:help|help\s+me|i\s+need\s+help|\?+|what\s+do\s+i\s+do|support)$")
_TOPIC_WORDS: tuple[tuple[Topic, re.Pattern[str]], ...] = (
    (Topic.CVC, re.compile(r"\b(cvc|cvv|cvv2|cid|security\s+code|code|3\s+digits)\b")),
    (
        Topic.SECURITY,
        re.compile(
            r"\b(secure|security|safe|safely|safety|privacy|private|encrypt\w*|store\w*|"
            r"keep|trust|scam|fraud|protect\w*|pci)\b"
        ),
    ),
    (Topic.EXPIRY, re.compile(r"\b(expiry|expiration|expire\w*|date)\b")),
    (Topic.AMOUNT, re.compile(r"\b(how\s+much|amount|price|cost|total|charge\w*)\b")),
    (Topic.NAME, re.compile(r"\b(name)\b")),
    (Topic.CARD, re.compile(r"\b(card|cards|number|brand|visa|mastercard|amex)\b")),
)

# Lead-ins before a name: "my name is", "name on the card is", "it's".
_NAME_LEAD = re.compile(
    r"^(?:(?:my|the|full)\s+)?(?:(?:full\s+)?name(?:\s+on\s+(?:the\s+)?card)?|"
    r"cardholder(?:\s+name)?|card\s*holder(?:\s+name)?)\s*(?:is|:|=|-)?\s*"
    r"|^(?:it'?s|it\s+is|i'?m|i\s+am|this\s+is|call\s+me)\s+",
    re.IGNORECASE,
)
# A name: words of letters (any script, accents included) joined by spaces, apostrophes,
# hyphens or dots. No digits, no other symbols.
_NAME = re.compile(r"^[^\W\d_]+(?:(?:[ '’\-]|\. ?)[^\W\d_]+)*\.?$")
MAX_NAME_LENGTH = 100
MIN_NAME_LENGTH = 2
# Words that are answers or commands, never a name on a card on their own.
_NOT_NAMES = frozenset(
    {
        "yes", "no", "ok", "okay", "sure", "help", "hi", "hello", "hey", "thanks",
        "thank you", "cancel", "stop", "back", "go back", "nope", "yep", "what", "why",
        "card", "name", "expiry", "cvc", "cvv", "change", "wrong", "sorry", "pay",
    }
)  # fmt: skip


# Labels people put before values in a one-line message ("exp 12/27 cvc 123"): not
# part of the name next to them.
_FIELD_LABELS = re.compile(
    r"(?i)\b(?:exp|expiry|expires|expiration|cvc|cvv|cvv2|security|code|card|number)\b:?"
)


@dataclass(slots=True)
class Parsed:
    """What one message says. ``pan`` and ``cvc`` are the only plaintext card data; they
    go to the vault and the CVC store and nowhere else."""

    masked_text: str
    intent: Intent = Intent.NONE
    change: Field | None = None
    topic: Topic | None = None
    pan: str | None = field(default=None, repr=False)
    pan_attempted: bool = False
    expiry: tuple[int, int] | None = None
    expiry_attempted: bool = False
    cvc: str | None = field(default=None, repr=False)
    name: str | None = None
    residue: str = ""

    @property
    def has_values(self) -> bool:
        return bool(
            self.pan_attempted or self.expiry or self.expiry_attempted or self.cvc or self.name
        )


def _mask_pan(digits: str) -> str:
    return f"•••• {digits[-4:]}"


def _best_pan(groups: list[str]) -> tuple[str, int]:
    """The card number in a run of digit groups and how many groups it spans: the whole
    run if it is a valid card, else the longest prefix of whole groups that is one (so
    ``4242 4242 4242 4242 12 27`` yields the card and leaves the expiry), else the whole
    run (which the validator will then refuse with its reason)."""
    for count in range(len(groups), 0, -1):
        digits = "".join(groups[:count])
        plausible = MIN_PAN_LENGTH <= len(digits) <= MAX_PAN_LENGTH and luhn_valid(digits)
        if plausible and not isinstance(check_number(digits), str):
            return digits, count
    return "".join(groups), len(groups)


def _cut_pans(text: str) -> tuple[str, str | None, bool]:
    """The text with card-number attempts replaced by a mask, the first attempt's
    digits, and whether there was any attempt."""
    found: list[str] = []

    def replace(match: re.Match[str]) -> str:
        run = match.group(0)
        groups = [g for g in _GROUP_SPLIT.split(run) if g]
        total = sum(len(g) for g in groups)
        separated = len(groups) > 1
        if total < MIN_PAN_LENGTH and (separated or total < MIN_UNSEPARATED_ATTEMPT):
            return run  # an expiry, a CVC or a short number: not a card attempt
        digits, used = _best_pan(groups) if separated else (run, 1)
        found.append(digits)
        rest = " ".join(groups[used:])
        return _mask_pan(digits) + (f" {rest}" if rest else "")

    masked = _DIGIT_RUN.sub(replace, text)
    return masked, (found[0] if found else None), bool(found)


def _normal(text: str) -> str:
    """Lowercase, curly quotes straightened, punctuation at the ends dropped."""
    text = unicodedata.normalize("NFC", text).replace("’", "'").lower()
    text = re.sub(r"\s+", " ", text).strip()
    return text.strip(" .!,;:")


def _find_expiry(text: str, allow_mmyy: bool) -> tuple[tuple[int, int] | None, str]:
    for pattern in (_SLASH_EXPIRY, _NAMED_EXPIRY):
        match = pattern.search(text)
        if match:
            month_text, year_text = match.group(1), match.group(2)
            month = _MONTHS[month_text[:3].lower()] if not month_text.isdigit() else int(month_text)
            year = int(year_text)
            rest = text[: match.start()] + " " + text[match.end() :]
            return (month, year), rest
    if allow_mmyy:
        spaced = _SPACED_EXPIRY.fullmatch(text.strip(" .,!"))
        if spaced:
            return (int(spaced.group(1)), int(spaced.group(2))), ""
        match = _MMYY.search(text)
        if match:
            rest = text[: match.start()] + " " + text[match.end() :]
            return (int(match.group(1)), int(match.group(2))), rest
    return None, text


def _strip_masks(text: str) -> str:
    return re.sub(r"•••• \d{4}", " ", text)


def _name_in(text: str) -> str | None:
    candidate = _NAME_LEAD.sub("", text.strip(" ,.;:!")).strip(" ,.;:!")
    candidate = re.sub(r"\s+", " ", candidate)
    if not MIN_NAME_LENGTH <= len(candidate) <= MAX_NAME_LENGTH:
        return None
    if candidate.lower() in _NOT_NAMES or not _NAME.match(candidate):
        return None
    return candidate


def field_named(text: str) -> Field | None:
    """The field a message names ("the expiry", "card number"), if any."""
    for name, pattern in _FIELD_WORDS:
        if pattern.search(text):
            return name
    return None


def _topic(text: str) -> Topic:
    for topic, pattern in _TOPIC_WORDS:
        if pattern.search(text):
            return topic
    return Topic.HELP


def parse(
    message: str, current: Field | None, *, card_known: bool = False, amex: bool = False
) -> Parsed:
    """Read ``message`` sent while the bot asks for ``current``. ``card_known``: the
    session already holds a card number; ``amex``: that card is an Amex (4-digit CVC)."""
    text = unicodedata.normalize("NFC", message).strip()
    masked, pan, pan_attempted = _cut_pans(text)
    working = _strip_masks(masked)

    expiry, working = _find_expiry(working, allow_mmyy=current is Field.EXPIRY)
    expiry_attempted = expiry is not None

    cvc: str | None = None
    cvc_named = bool(_CVC_WORDS.search(working))
    # At the expiry question a lone number is an expiry attempt ("1327"), but next to a
    # date the pattern read ("12/29 737") or after "code" it is the security code.
    expiry_then_cvc = current is Field.EXPIRY and (expiry is not None or cvc_named)
    cvc_context = current is Field.CVV or pan_attempted or cvc_named or expiry_then_cvc
    if current is Field.EXPIRY and expiry is None:
        # "12 27", "1327": an expiry attempt the patterns did not accept.
        expiry_attempted = bool(re.search(r"\d", working))
    if cvc_context and not (current is Field.EXPIRY and not pan_attempted and not expiry_then_cvc):
        numbers = list(
            (_SHORT_NUMBER if current is Field.CVV else _THREE_OR_FOUR).finditer(working)
        )
        if pan_attempted and expiry is None and numbers:
            # "4242…, 1227, 123": the first of two numbers is the expiry.
            first = numbers[0].group(0)
            mmyy = _MMYY.fullmatch(first)
            if mmyy and (len(numbers) > 1 or not (amex or card_known)):
                expiry = (int(mmyy.group(1)), int(mmyy.group(2)))
                expiry_attempted = True
                numbers = numbers[1:]
        if numbers:
            chosen = numbers[0]
            cvc = chosen.group(0)
            working = working[: chosen.start()] + " " + working[chosen.end() :]
            if expiry_then_cvc and expiry is None:
                # "the code is 737": that number was the code, not a try at the expiry.
                expiry_attempted = bool(re.search(r"\d", working))

    if cvc is not None:
        masked = _mask_cvc(masked, cvc)
    # Any other number of a security code's length is masked too, whatever it was meant
    # as ("737" typed at the name question): what may be a CVC never reaches the history,
    # a log or a model. Over-masking costs nothing; the dialogue reads ``working``.
    for stray in {m.group(0) for m in _THREE_OR_FOUR.finditer(working)}:
        masked = _mask_cvc(masked, stray)
    residue = _normal(working)
    parsed = Parsed(
        masked_text=masked,
        pan=pan,
        pan_attempted=pan_attempted,
        expiry=expiry,
        expiry_attempted=expiry_attempted,
        cvc=cvc,
        residue=residue,
    )
    _read_intent(parsed, residue, current, working)
    return parsed


def _mask_cvc(masked: str, cvc: str) -> str:
    """Replace the CVC (every standalone digit run equal to it) with dots in the masked
    text. Every one: the same digits elsewhere in the message would give it away."""
    pattern = re.compile(rf"(?<![\d/•]){re.escape(cvc)}(?![\d/])")
    return pattern.sub("•••", masked)


def _read_intent(parsed: Parsed, residue: str, current: Field | None, working: str) -> None:
    bare = _LEADING_FILLER.sub("", residue).strip(" ,.!")
    values = parsed.has_values
    if not values and (_CANCEL.match(residue) or (bare and _CANCEL.match(bare))):
        parsed.intent = Intent.CANCEL
        return
    if not values and (_BACK.match(residue) or (bare and _BACK.match(bare))):
        parsed.intent = Intent.BACK
        return
    if not values and (_HELP.match(residue) or residue.endswith("?") or _is_question(residue)):
        parsed.intent = Intent.QUESTION
        parsed.topic = Topic.HELP if _HELP.match(residue) else _topic(residue)
        return
    named = field_named(residue)
    correcting = bool(_CORRECTION_WORDS.search(residue))
    if named is not None and (correcting or values) and not _looks_like_name_only(residue, current):
        parsed.intent = Intent.CHANGE
        parsed.change = named
        if named is Field.NAME:
            parsed.name = _name_after_field_word(working)
        return
    if not values and correcting and current is Field.CONFIRMATION and residue in ("wrong",):
        parsed.intent = Intent.NO
        return
    if not values:
        if _YES.match(residue):
            parsed.intent = Intent.YES
            return
        if _NO.match(residue):
            parsed.intent = Intent.NO
            return
        if _GREETING.match(residue):
            parsed.intent = Intent.GREETING
            return
    # A name: the whole message when the bot asks for it, or one comma-separated part of
    # a message that also carries card details ("John Smith, 4242…, 12/27, 123").
    if current is Field.NAME and not values:
        parsed.name = _name_in(working)
    elif parsed.pan_attempted or (values and current is Field.NAME):
        for part in re.split(r"[,;\n]| and ", working):
            name = _name_in(_FIELD_LABELS.sub(" ", part))
            if name is not None:
                parsed.name = name
                break
    elif _NAME_LEAD.match(working.strip()) and re.match(r"(?i)\s*(my|the)?\s*name", working):
        parsed.name = _name_in(working)
        if parsed.name is not None:
            parsed.intent = Intent.CHANGE
            parsed.change = Field.NAME


def _is_question(residue: str) -> bool:
    return bool(_QUESTION_START.match(residue)) and len(residue.split()) >= 2


def _looks_like_name_only(residue: str, current: Field | None) -> bool:
    """At the name question, "Card" or "Date Smith" may be a name, not a field word."""
    return current is Field.NAME and not _CORRECTION_WORDS.search(residue)


def _name_after_field_word(working: str) -> str | None:
    """The new name in "sorry, the name is Zoë Brontë" (None in "change the name")."""
    match = re.search(
        r"(?i)\bname\b(?:\s+on\s+(?:the\s+)?card)?\s*(?:is|should\s+be|to|:)\s+(.+)$", working
    )
    return _name_in(match.group(1)) if match else None
