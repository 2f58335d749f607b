"""Logging: one line per record, JSON by default (``SMARTPAY_LOG_FORMAT=text`` for
people reading a terminal), each stamped with the id of the request that caused it and
scrubbed of anything shaped like card data before any handler sees it."""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from smartpay.kit.redaction import scrub_record
from smartpay.kit.request_context import current_request_id

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
# The fields of a JSON line, renamed to the names log pipelines expect.
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"
JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}

_installed = False


def install_record_factory() -> None:
    """Every record, whichever logger or handler it goes through (ours, uvicorn's, a
    library's), is scrubbed of card data and carries ``request_id`` as it is created."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        scrub_record(record)
        record.request_id = current_request_id.get()
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields=JSON_RENAMES, timestamp=False)
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str, log_format: str = "json") -> None:
    """Log to stderr at ``level`` in ``log_format`` (json or text); leaves handlers that
    something else installed alone."""
    install_record_factory()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(formatter(log_format))
        root.addHandler(handler)
    root.setLevel(level.upper())
