"""One logging set-up every Warren process calls at start-up: level from settings, and in every line the
service name and the correlation id of the checkout being worked on (so one grep follows an order through
all four services).

The correlation id comes from, in order: ``extra={"correlation_id": ...}`` on the call, the id bound with
:func:`correlation_scope` (the consumer runtime binds it around each handler, the HTTP layer per request), or
``-``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Literal

_correlation_id: ContextVar[str | None] = ContextVar("warren_correlation_id", default=None)
_HANDLER_NAME = "warren"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(service)s [%(correlation_id)s] %(name)s: %(message)s"
# Chatty below WARNING and about their own plumbing, not about Warren's work.
QUIET_LOGGERS = ("aiormq", "aio_pika", "pamqp", "httpx", "httpcore", "uvicorn.access", "asyncio")


def current_correlation_id() -> str | None:
    """The correlation id bound to the running task, if any."""
    return _correlation_id.get()


@contextlib.contextmanager
def correlation_scope(correlation_id: str | None) -> Iterator[None]:
    """Bind ``correlation_id`` to every log line written inside the ``with`` block (task-local)."""
    token = _correlation_id.set(correlation_id)
    try:
        yield
    finally:
        _correlation_id.reset(token)


class ContextFilter(logging.Filter):
    """Stamp each record with ``service`` and ``correlation_id`` (unless the call passed its own)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        if not getattr(record, "correlation_id", None):
            record.correlation_id = _correlation_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers (``log_format="json"``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": getattr(record, "service", None),
            "correlation_id": getattr(record, "correlation_id", None),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(
    service: str,
    level: str | int = "INFO",
    *,
    log_format: Literal["text", "json"] = "text",
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Route the root logger to ``stream`` (stderr) with service + correlation id; safe to call twice."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ContextFilter(service))
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)
    return handler
