"""Tracing is off unless the standard OTEL_* variables ask for it, and an event keeps the
trace context it was made in across Kafka (the CloudEvents distributed-tracing extension)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from portal_shared import tracing
from portal_shared.events.envelope import CloudEvent
from portal_shared.events.outbox import new_event

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "requests"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
    ],
)
def test_traces_are_on_only_when_the_environment_asks(environ: dict[str, str], on: bool) -> None:
    assert tracing.enabled(environ) is on


def test_the_trace_context_crosses_kafka_as_ce_headers() -> None:
    event = CloudEvent(
        type="requests.request.submitted.v1",
        source="/requests",
        subject="r1",
        data={"id": "r1"},
        traceparent=TRACEPARENT,
        tracestate="portal=1",
    )
    headers = dict(event.headers())
    assert headers["ce_traceparent"] == TRACEPARENT.encode()
    assert headers["ce_tracestate"] == b"portal=1"
    read = CloudEvent.from_kafka(event.headers(), event.value())
    assert (read.traceparent, read.tracestate) == (TRACEPARENT, "portal=1")
    untraced = CloudEvent(type="t", source="/s", subject="s", data={})
    assert not any(name.startswith("ce_trace") for name, _ in untraced.headers())


def test_a_malformed_traceparent_starts_no_trace() -> None:
    assert tracing.context_from("00-not-a-trace-01", None) is None
    assert tracing.context_from(None, None) is None
    assert tracing.context_from(TRACEPARENT, None) is not None


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    tracing.export_to(memory)
    try:
        yield memory
    finally:
        tracing.export_to(None)


def test_an_event_made_in_a_span_carries_that_span(exporter: InMemorySpanExporter) -> None:
    tracer = tracing.tracer("requests")
    assert tracer is not None
    with tracer.start_as_current_span("handler") as span:
        event = new_event(type="t", source="/s", key="k", data={})
    context = span.get_span_context()
    assert event.traceparent is not None
    assert event.traceparent.startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")
    outside = new_event(type="t", source="/s", key="k", data={})
    assert outside.traceparent is None
