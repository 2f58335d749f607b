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
        _scrub(record)
        return True


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is left for logging's own error handling
        return
    cleaned = redact_pan(message)
    if cleaned != message:
        record.msg = cleaned
        record.args = None


_installed = False


def install_log_redaction() -> None:
    """Mask card-like numbers in every log record as it is created, whichever logger or
    handler (ours, uvicorn's, a library's) it goes through."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _scrub(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def configure_logging(level: str) -> None:
    """Log to stderr at ``level`` with card data masked; leaves existing handlers alone."""
    install_log_redaction()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level.upper())
