"""Keep card data out of logs, error messages and anything else that leaves the vault.

``redact_pan`` masks any 12–19 digit run (with spaces or dashes) in free text. The logging
filter applies it to every record, as a safety net behind the rule that card data is
never passed to a logger in the first place.
"""

from __future__ import annotations

import logging
import re

_PAN_LIKE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
# Form and JSON fields that carry a CVC: values are blanked, whatever their length.
_CVC_FIELD = re.compile(r"(?i)(cvc|cvv|card\[cvc\]|security_code)([\"']?\s*[:=]\s*[\"']?)(\d{3,4})")


def redact_pan(text: str) -> str:
    text = _PAN_LIKE.sub(_mask, text)
    return _CVC_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


def _mask(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return f"****{digits[-4:]}"


class CardDataFilter(logging.Filter):
    """Rewrites a record's message with card-like numbers masked (for handlers that are
    configured explicitly, e.g. in tests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


def scrub_record(record: logging.LogRecord) -> None:
    """Mask card data in a record's message (its arguments merged in first)."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is left for logging's own error handling
        return
    cleaned = redact_pan(message)
    if cleaned != message:
        record.msg = cleaned
        record.args = None
