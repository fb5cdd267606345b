"""OpenTelemetry traces, off unless the standard `OTEL_*` variables turn them on.

A trace follows a request through the gateway (W3C `traceparent` on HTTP), the service's
handler and its database statements, into the outbox row, out through the relay as the
CloudEvents distributed-tracing extension (`ce_traceparent`, `ce_tracestate`), and on into
the consumer that applies the event.

Tracing is on when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`) or an
OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or `..._TRACES_ENDPOINT`), and
`OTEL_SDK_DISABLED` is not true. Everything else (sampler, headers, resource attributes,
`OTEL_SERVICE_NAME`) is read by the SDK and the OTLP exporter themselves. When it is off,
`tracer()` answers None and callers install nothing: no middleware, no SDK provider, no
exporter thread, so the hot paths run exactly as without this module.

Each service gets a provider of its own (its `service.name`), because the embedded runner
serves every service from one process; none is installed as the global provider.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
TRACE_HEADERS = frozenset({TRACEPARENT.encode(), TRACESTATE.encode()})
# Where an app without Starlette routing (the gateway) leaves the route its span is named by.
ROUTE_KEY = "portal.route"
_SCOPE = "portal"
_W3C = TraceContextTextMapPropagator()

_providers: dict[str, TracerProvider] = {}
# A test's exporter (in-memory), used instead of what the environment says.
_test_exporter: SpanExporter | None = None


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for traces (see the module docstring)."""
    env = os.environ if environ is None else environ
    if _test_exporter is not None:
        return True
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _exporters() -> list[SpanExporter]:
    names = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    out: list[SpanExporter] = []
    for name in (n.strip() for n in names.split(",")):
        if name == "console":
            out.append(ConsoleSpanExporter())
        elif name == "otlp":
            # Imported only when used: the exporter brings protobuf along.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            out.append(OTLPSpanExporter())
        elif name not in ("", "none"):
            raise ValueError(f"OTEL_TRACES_EXPORTER: unsupported exporter {name!r}")
    return out


def tracer(service: str) -> Tracer | None:
    """The service's tracer, or None when tracing is off (then nothing is installed)."""
    if not enabled():
        return None
    provider = _providers.get(service)
    if provider is None:
        # Resource.create merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME over this.
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        if _test_exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(_test_exporter))
        else:
            for exporter in _exporters():
                provider.add_span_processor(BatchSpanProcessor(exporter))
        _providers[service] = provider
    return provider.get_tracer(_SCOPE)


def export_to(exporter: SpanExporter | None) -> None:
    """Send every span to `exporter` (a test's in-memory one), or, with None, go back to what
    the environment says; providers made before are shut down and forgotten."""
    global _test_exporter
    for provider in _providers.values():
        provider.shutdown()
    _providers.clear()
    _test_exporter = exporter


# -- propagation ------------------------------------------------------------------------


def current_trace_headers() -> tuple[str | None, str | None]:
    """The current span's `traceparent` and `tracestate` (None, None outside a trace)."""
    if not _providers:
        return None, None  # tracing is off: nothing can have started a span
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get(TRACEPARENT), carrier.get(TRACESTATE) or None


def context_from(traceparent: str | None, tracestate: str | None) -> otel_context.Context | None:
    """The remote context a `traceparent` names, or None for a missing or malformed one."""
    if not traceparent:
        return None
    carrier = {TRACEPARENT: traceparent}
    if tracestate:
        carrier[TRACESTATE] = tracestate
    ctx = _W3C.extract(carrier)
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def _context_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> otel_context.Context | None:
    parent = state = None
    for name, value in headers:
        if name == b"traceparent":
            parent = value.decode("latin-1")
        elif name == b"tracestate":
            state = value.decode("latin-1")
    return context_from(parent, state)


def inject_headers(headers: list[tuple[bytes, bytes]]) -> None:
    """Replace any `traceparent`/`tracestate` in `headers` with the current span's."""
    headers[:] = [(n, v) for n, v in headers if n not in TRACE_HEADERS]
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    headers.extend((name.encode(), value.encode("latin-1")) for name, value in carrier.items())


# -- HTTP servers -----------------------------------------------------------------------


class TracingMiddleware:
    """Pure ASGI middleware: one SERVER span per request, continuing the caller's trace.

    Installed only when tracing is on. The span is named after the route template once
    routing has found it (`scope["route"]`, or the gateway's `ROUTE_KEY`), so names stay
    few."""

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        status = 0
        with self.tracer.start_as_current_span(
            method,
            context=_context_from_headers(scope["headers"]),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as span:

            async def send_traced(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, send_traced)
            finally:
                route = scope.get(ROUTE_KEY) or getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                if status:
                    span.set_attribute("http.response.status_code", status)
                if status >= 500 or not status:
                    span.set_status(Status(StatusCode.ERROR))


# -- databases --------------------------------------------------------------------------

_DB_ATTRIBUTES = {"db.system.name": "postgresql"}


def _statement_name(statement: str) -> str:
    words = statement.split(None, 1)
    return words[0].upper() if words else "SQL"


def _in_trace() -> bool:
    # Statements outside any trace (the relay's polls, the overdue check) would each start
    # a trace of their own: noise, not insight. They are left out.
    return trace.get_current_span().get_span_context().is_valid


def trace_engine(engine: AsyncEngine, tracer: Tracer) -> None:
    """A CLIENT span per statement run through the engine inside a trace."""

    def before(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if context is None or not _in_trace():
            return
        context._portal_span = tracer.start_span(
            _statement_name(statement),
            kind=SpanKind.CLIENT,
            attributes={**_DB_ATTRIBUTES, "db.query.text": statement[:2000]},
        )

    def after(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        span = getattr(context, "_portal_span", None)
        if span is not None:
            span.end()
            context._portal_span = None

    def failed(exception_context: Any) -> None:
        span = getattr(exception_context.execution_context, "_portal_span", None)
        if span is not None:
            error = type(exception_context.original_exception).__name__
            span.set_status(Status(StatusCode.ERROR, error))
            span.end()
            exception_context.execution_context._portal_span = None

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    event.listen(engine.sync_engine, "handle_error", failed)


def trace_asyncpg(connection: Any, service: str) -> None:
    """A CLIENT span per statement on a raw asyncpg connection (the submission path), from
    asyncpg's query logger: it calls back once the statement is done, in the caller's
    context (call_soon copies it), with the time the statement took. Nothing when off."""
    tracer_ = tracer(service)
    if tracer_ is None:
        return

    def logged(record: Any) -> None:
        if not _in_trace():
            return
        end = time.time_ns()
        span = tracer_.start_span(
            _statement_name(record.query),
            kind=SpanKind.CLIENT,
            attributes={**_DB_ATTRIBUTES, "db.query.text": record.query[:2000]},
            start_time=end - int(record.elapsed * 1e9),
        )
        if record.exception is not None:
            span.set_status(Status(StatusCode.ERROR, type(record.exception).__name__))
        span.end(end_time=end)

    connection.add_query_logger(logged)
