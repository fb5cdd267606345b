"""Structured JSON logs, with the request id carried from HTTP into events and back.

The request id lives in a context variable: the HTTP middleware sets it from
`X-Request-ID` (or makes one), the outbox copies it into each event's
`requestid` extension, and consumers set it again while handling the event.
"""

from __future__ import annotations

import logging
import sys
import uuid
from contextvars import ContextVar

import structlog

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

REQUEST_ID_HEADER = "x-request-id"
_MAX_REQUEST_ID = 128


def clean_request_id(value: str | None) -> str:
    """Accept a caller's id if it is short and printable, otherwise make a new one."""
    if value and len(value) <= _MAX_REQUEST_ID and value.isascii() and value.isprintable():
        return value
    return uuid.uuid4().hex


def _add_request_id(
    _: object, __: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    rid = request_id_var.get()
    if rid is not None:
        event_dict.setdefault("request_id", rid)
    return event_dict


def configure_logging(service: str, level: str = "INFO", *, json: bool = True) -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_request_id,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries log through the standard module; keep them quiet unless they warn.
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(name)s %(message)s")
