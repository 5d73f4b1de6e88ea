"""Logs: one JSON object a line (or one readable line), carrying the delivery being processed."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_delivery_id: ContextVar[str | None] = ContextVar("delivery_id", default=None)

_STANDARD_ATTRIBUTES = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with ANSI colours
}
MAX_TRACEBACK = 4096  # bytes of a traceback kept in a JSON line: its end, where the error is


def current_delivery_id() -> str | None:
    return _delivery_id.get()


@contextmanager
def delivery_context(delivery_id: str | None) -> Iterator[None]:
    token = _delivery_id.set(delivery_id)
    try:
        yield
    finally:
        _delivery_id.reset(token)


def _extras(record: logging.LogRecord) -> dict[str, object]:
    """What the call site attached (extra={...}): the job, the reason, the outcome."""
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
    }


def _error_line(record: logging.LogRecord) -> str | None:
    if not record.exc_info or record.exc_info[1] is None:
        return None
    error = record.exc_info[1]
    return f"{type(error).__name__}: {error}".splitlines()[0][:500]


class JsonFormatter(logging.Formatter):
    """One JSON object a line; a traceback (its last 4 KB) only at error level and above."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        delivery_id = current_delivery_id()
        if delivery_id:
            entry["delivery_id"] = delivery_id
        entry |= _extras(record)
        if record.exc_info:
            entry["error"] = _error_line(record)
            if record.levelno >= logging.ERROR:
                trace = self.formatException(record.exc_info)
                entry["traceback"] = (
                    trace if len(trace) <= MAX_TRACEBACK else ("..." + trace[-MAX_TRACEBACK:])
                )
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """One line an event for a person: level, logger, message, the delivery and the reason;
    the traceback only when logging at DEBUG."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{record.levelname} {record.name}: {record.getMessage()}"]
        delivery_id = current_delivery_id()
        if delivery_id:
            parts.append(f"delivery={delivery_id}")
        parts += [f"{key}={_text(value)}" for key, value in _extras(record).items()]
        error = _error_line(record)
        if error and not any(error in str(value) for value in _extras(record).values()):
            parts.append(f"error={_text(error)}")
        line = " ".join(parts)
        if record.exc_info and logging.getLogger().isEnabledFor(logging.DEBUG):
            line += "\n" + self.formatException(record.exc_info)
        return line


def _text(value: object) -> str:
    text = str(value).replace("\n", " ")
    return json.dumps(text) if (" " in text or not text) else text


def configure(level: str = "INFO", as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
