"""CloudEvents 1.0 in Kafka binary content mode, as the contract fixes it.

Attributes travel as `ce_*` headers, the message key is the aggregate's id and
the value is the JSON `data`. `requestid` is our own extension attribute: it
carries the HTTP request id that caused the event. `traceparent` and `tracestate` are the
CloudEvents distributed-tracing extension: the W3C trace context in which the event was
made, so that a consumer continues that trace (`portal_shared.tracing`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
_REQUIRED = ("ce_id", "ce_specversion", "ce_source", "ce_type")

Headers = list[tuple[str, bytes]]


class MalformedEvent(ValueError):
    """A Kafka message that is not a CloudEvent we can read: it goes to the dead-letter topic."""


@dataclass(frozen=True)
class CloudEvent:
    type: str
    source: str
    subject: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    request_id: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None

    def headers(self) -> Headers:
        headers: Headers = [
            ("ce_id", self.id.encode()),
            ("ce_specversion", SPECVERSION.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", rfc3339(self.time).encode()),
            ("ce_subject", self.subject.encode()),
            ("content-type", CONTENT_TYPE.encode()),
        ]
        if self.request_id:
            headers.append(("ce_requestid", self.request_id.encode()))
        if self.traceparent:
            headers.append(("ce_traceparent", self.traceparent.encode()))
            if self.tracestate:
                headers.append(("ce_tracestate", self.tracestate.encode()))
        return headers

    def value(self) -> bytes:
        return orjson.dumps(self.data)

    @classmethod
    def from_kafka(cls, headers: Sequence[tuple[str, bytes]], value: bytes | None) -> CloudEvent:
        attrs: dict[str, str] = {}
        for name, raw in headers:
            try:
                attrs[name.lower()] = raw.decode()
            except UnicodeDecodeError as exc:
                raise MalformedEvent(f"header {name} is not UTF-8") from exc
        missing = [h for h in _REQUIRED if not attrs.get(h)]
        if missing:
            raise MalformedEvent("missing CloudEvents headers: " + ", ".join(missing))
        if attrs["ce_specversion"] != SPECVERSION:
            raise MalformedEvent(f"unsupported specversion {attrs['ce_specversion']}")
        try:
            data = orjson.loads(value) if value else {}
        except orjson.JSONDecodeError as exc:
            raise MalformedEvent(f"data is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise MalformedEvent("data must be a JSON object")
        try:
            when = datetime.fromisoformat(attrs["ce_time"]) if attrs.get("ce_time") else None
        except ValueError as exc:
            raise MalformedEvent("ce_time is not RFC 3339") from exc
        return cls(
            id=attrs["ce_id"],
            type=attrs["ce_type"],
            source=attrs["ce_source"],
            subject=attrs.get("ce_subject", ""),
            data=data,
            time=when or datetime.now(UTC),
            request_id=attrs.get("ce_requestid"),
            traceparent=attrs.get("ce_traceparent"),
            tracestate=attrs.get("ce_tracestate"),
        )


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
