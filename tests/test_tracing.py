"""One trace follows a submission from the gateway to the consumer that applies its event:
the gateway's span, the requests service's span, its database statement, the relay's
publication and the consumer's span all share one trace id, each the child of the one
before. With no OTEL_* variables, nothing of the SDK is installed.

The gateway runs in-process (over httpx's ASGI transport) in front of the requests
service served by uvicorn on a loopback port, as the gateway proxies over real TCP; the
consumer is the shared `EventConsumer` on the real broker."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import date
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import ProxyTracerProvider, SpanKind
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import Gateway
from gateway.settings import GatewaySettings
from portal_embedded.broker import free_port
from portal_shared import tracing
from portal_shared.events.consumer import EventConsumer
from portal_shared.events.envelope import CloudEvent
from portal_shared.events.relay import make_producer
from portal_testing.service import TestIssuer, migrated_settings, running, serve_jwks
from service_requests.__main__ import SERVICE_ROOT as REQUESTS_ROOT
from service_requests.app import create_app as create_requests
from service_requests.settings import RequestsSettings

WAIT = 60.0
FORM_SCHEMA = {
    "type": "object",
    "required": ["full_name"],
    "additionalProperties": False,
    "properties": {"full_name": {"type": "string", "minLength": 2}},
}
OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SERVICE_NAME",
)


async def eventually(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not (value := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
    return value


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    memory = InMemorySpanExporter()
    tracing.export_to(memory)
    try:
        yield memory
    finally:
        tracing.export_to(None)


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """Serve an app (its lifespan already running) on a loopback port; yields its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), "uvicorn to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def gateway_before(requests_url: str, issuer: TestIssuer) -> AsyncIterator[Gateway]:
    with serve_jwks(issuer) as jwks_url:
        gateway = Gateway(
            GatewaySettings(
                requests_url=requests_url,
                jwks_url=jwks_url,
                revocation_feed=False,
                log_json=False,
                PORTAL_ENV="test",
            )
        )
        await gateway.startup()
        try:
            yield gateway
        finally:
            await gateway.shutdown()


async def publish_service(app: FastAPI, kafka: str) -> uuid.UUID:
    """An agency and a published service, as the directory and the catalog announce them;
    returns the service's id once the requests service holds it."""
    agency_id, service_id = uuid.uuid4(), uuid.uuid4()
    agency = CloudEvent(
        type="directory.agency.registered.v1",
        source="/directory",
        subject=str(agency_id),
        data={
            "id": str(agency_id),
            "code": f"BKR-{agency_id.hex[:6].upper()}",
            "name": {"kk": "Агенттік", "ru": "Агентство", "en": "Agency"},
            "kind": "department",
            "timezone": "Asia/Qyzylorda",
            "status": "active",
            "version": 1,
        },
    )
    service = CloudEvent(
        type="catalog.service.published.v1",
        source="/catalog",
        subject=str(service_id),
        data={
            "id": str(service_id),
            "code": f"SVC-{service_id.hex[:6]}",
            "name": {"kk": "Қызмет", "ru": "Услуга", "en": "Address certificate"},
            "description": {"kk": "", "ru": "", "en": ""},
            "agency_id": str(agency_id),
            "term_working_days": 3,
            "fee": {"amount": 0, "currency": "KZT"},
            "refusal_grounds": [],
            "form_schema": FORM_SCHEMA,
            "status": "published",
            "version": 1,
        },
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        for topic, event in (("directory.agency", agency), ("catalog.service", service)):
            await producer.send_and_wait(
                topic, value=event.value(), key=event.subject.encode(), headers=event.headers()
            )
    finally:
        await producer.stop()

    async def published() -> bool:
        async with app.state.engine.connect() as conn:
            found = await conn.execute(
                text("SELECT 1 FROM offerings WHERE id = :id AND status = 'published'"),
                {"id": service_id},
            )
            return found.first() is not None

    await eventually(published, "the service to reach the requests service")
    return service_id


def only(spans: Sequence[ReadableSpan], what: str) -> ReadableSpan:
    assert len(spans) == 1, f"expected one {what}, found {[s.name for s in spans]}"
    return spans[0]


def service_of(span: ReadableSpan) -> Any:
    return span.resource.attributes.get("service.name")


async def test_one_trace_from_the_gateway_to_the_consumer_that_applies_the_event(
    exporter: InMemorySpanExporter, postgres_url: str, kafka_bootstrap: str
) -> None:
    issuer = TestIssuer()
    settings = await migrated_settings(
        RequestsSettings,
        REQUESTS_ROOT,
        f"{postgres_url}/requests_tracing",
        kafka_bootstrap,
        kafka_group_prefix="tracing.",
    )
    applied: dict[str, CloudEvent] = {}

    async def apply(session: AsyncSession, event: CloudEvent) -> None:
        # What an agency's copy would do: one statement in the consumer's transaction.
        await session.execute(text("SELECT 1"))
        applied[str(event.data["id"])] = event

    stop = asyncio.Event()
    async with running(create_requests(settings), issuer) as app:
        consumer = EventConsumer(
            group_id=f"tracing.observer.{uuid.uuid4().hex[:8]}",
            bootstrap_servers=kafka_bootstrap,
            topics=["requests.request"],
            handlers={"requests.request.submitted.v1": apply},
            sessionmaker=app.state.sessionmaker,
            producer_factory=lambda: make_producer(kafka_bootstrap, idempotence=False),
            tracer=tracing.tracer("observer"),
        )
        consuming = asyncio.create_task(consumer.run(stop))
        try:
            service_id = await publish_service(app, kafka_bootstrap)
            async with (
                served(app) as url,
                gateway_before(url, issuer) as gateway,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=gateway), base_url="http://localhost:8000"
                ) as client,
            ):
                response = await client.post(
                    "/api/v1/requests",
                    json={"service_id": str(service_id), "form_data": {"full_name": "Aida"}},
                    headers=issuer.headers(sub=uuid.uuid4(), roles=["resident"]),
                )
                assert response.status_code == 201, response.text
                request_id = response.json()["id"]
                event = await eventually(
                    lambda: asyncio.sleep(0, applied.get(request_id)), "the event to be applied"
                )
        finally:
            stop.set()
            await consuming

    # The event itself carries the trace, as the CloudEvents tracing extension says.
    assert event.traceparent is not None

    def spans() -> list[ReadableSpan]:
        return list(exporter.get_finished_spans())

    edge = only(
        [s for s in spans() if service_of(s) == "gateway" and s.kind == SpanKind.SERVER],
        "gateway span",
    )
    assert edge.context is not None
    assert edge.name == "POST /api/v1/requests"  # the route's prefix: names stay few
    trace_id = edge.context.trace_id
    assert event.traceparent.split("-")[1] == f"{trace_id:032x}"
    in_trace = [s for s in spans() if s.context is not None and s.context.trace_id == trace_id]
    ids = {s.context.span_id: s for s in in_trace if s.context is not None}

    def parent_of(span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None, f"{span.name} has no parent"
        return ids[span.parent.span_id]

    server = only(
        [s for s in in_trace if service_of(s) == "requests" and s.kind == SpanKind.SERVER],
        "requests server span",
    )
    assert server.name == "POST /api/v1/requests"
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 201
    assert parent_of(server) is edge
    # The one statement that writes the request, its history and its outbox row.
    writes = [
        s
        for s in in_trace
        if s.kind == SpanKind.CLIENT
        and s.attributes is not None
        and "INSERT INTO outbox" in str(s.attributes.get("db.query.text"))
    ]
    assert parent_of(only(writes, "outbox write")) is server
    publish = only([s for s in in_trace if s.kind == SpanKind.PRODUCER], "relay publication span")
    assert publish.name == "requests.request publish"
    assert parent_of(publish) is server
    process = only([s for s in in_trace if s.kind == SpanKind.CONSUMER], "consumer span")
    assert service_of(process) == "observer"
    assert process.name == "requests.request process"
    assert process.attributes is not None
    assert process.attributes["messaging.message.id"] == event.id
    assert parent_of(process) is server
    # The consumer's own statements (the processed-events record, the handler's) are its.
    assert any(s.kind == SpanKind.CLIENT and parent_of(s) is process for s in in_trace)
    assert date.fromisoformat(response.json()["due_date"])


def test_with_otel_unset_nothing_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    tracing.export_to(None)
    assert tracing.tracer("requests") is None
    assert isinstance(trace.get_tracer_provider(), ProxyTracerProvider)
    gateway = Gateway(GatewaySettings(PORTAL_ENV="test"))
    assert gateway._traced is None
    assert not gateway.proxy.traced
    app = create_requests(RequestsSettings(PORTAL_ENV="test"))
    middleware: list[object] = [m.cls for m in app.user_middleware]
    assert tracing.TracingMiddleware not in middleware
    assert tracing.current_trace_headers() == (None, None)
    assert not [t for t in threading.enumerate() if t.name.startswith("OtelBatch")]
