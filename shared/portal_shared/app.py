"""The one way a service process is assembled: `create_service_app(ServiceSpec(...))`.

It wires settings, logging, the database engine and per-request session, the
token verifier, problem+json errors, health, metrics and traces, and (in the lifespan)
topic provisioning, the outbox relay, the event consumers and the revocation
feed (which keeps the token verifier's denylist current) as background tasks
that stop cleanly with the process.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from opentelemetry.trace import Tracer
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal_shared import tracing
from portal_shared.asyncapi import asyncapi_fragment
from portal_shared.auth import TokenVerifier
from portal_shared.bodies import InputEdge, JsonLimits
from portal_shared.db import make_engine, make_sessionmaker
from portal_shared.errors import PROBLEM_JSON, install_error_handlers
from portal_shared.events.consumer import BatchHandler, EventConsumer, Handler
from portal_shared.events.relay import OutboxRelay, make_producer
from portal_shared.events.topics import ensure_topics, with_dead_letters
from portal_shared.logging import configure_logging
from portal_shared.observability import (
    database_check,
    health_router,
    install_observability,
    kafka_check,
)
from portal_shared.openapi import (
    PROBLEM_REF,
    PROBLEM_SCHEMA,
    RouteLike,
    document_operation,
    operation_id,
    security_schemes,
    unique_titles,
)
from portal_shared.paging import CursorCodec
from portal_shared.revocation import FEED_TOPICS, RevocationFeed, RevocationList
from portal_shared.scopes import declare_route_scopes
from portal_shared.settings import ServiceSettings

log = structlog.get_logger(__name__)

SWAGGER_UI = swagger_ui_bundle.swagger_ui_path


@dataclass(frozen=True)
class ConsumerSpec:
    group_id: str
    topics: Sequence[str]
    handlers: Mapping[str, Handler]
    # Opt-in: apply each fetched batch in one transaction (see portal_shared.events.consumer);
    # `handlers` still name the types consumed and apply a batch that fails as a whole.
    batch_handler: BatchHandler | None = None
    # Called after each commit that applied new events (e.g. to wake a worker).
    on_applied: Callable[[], None] | None = None


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    description: str
    settings: ServiceSettings
    routers: Sequence[APIRouter] = ()
    produces: Sequence[str] = ()
    consumers: Sequence[ConsumerSpec] = ()
    # Extra background loops (e.g. the overdue check), each run until `stop` is set.
    workers: Sequence[Callable[[FastAPI, asyncio.Event], Coroutine[Any, Any, None]]] = ()
    on_startup: Sequence[Callable[[FastAPI], Awaitable[None]]] = ()
    on_shutdown: Sequence[Callable[[FastAPI], Awaitable[None]]] = ()
    tags: Sequence[dict[str, str]] = field(default_factory=list)
    # Event type -> payload model, for what this service publishes (served as /asyncapi.json).
    events: Mapping[str, type[BaseModel]] = field(default_factory=dict)


Worker = Callable[[FastAPI, asyncio.Event], Coroutine[Any, Any, None]]


def periodic(
    name: str, job: Callable[[FastAPI], Awaitable[None]], interval: Callable[[FastAPI], float]
) -> Worker:
    """A ServiceSpec worker that runs `job` now and then every `interval(app)` seconds until
    the process stops; a failed round (the database away) is logged and tried again."""

    async def worker(app: FastAPI, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await job(app)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(f"{name}_failed", error=repr(exc))
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval(app))

    worker.__name__ = name
    return worker


def service_topics(spec: ServiceSpec) -> list[str]:
    """Every topic the service uses (what it produces and consumes, and the revocation feed),
    each with its dead-letter topic: what the process provisions at start-up, and what a
    deployment whose brokers create no topics must provision for it (deploy/tests check)."""
    feed_topics = list(FEED_TOPICS) if spec.settings.revocation_feed else []
    return with_dead_letters(
        dict.fromkeys(
            [*spec.produces, *(t for c in spec.consumers for t in c.topics), *feed_topics]
        )
    )


def _background(
    spec: ServiceSpec, app: FastAPI, stop: asyncio.Event, tracer: Tracer | None
) -> list[asyncio.Task[None]]:
    settings = spec.settings

    def producer() -> Any:
        return make_producer(
            settings.kafka_bootstrap_servers, idempotence=settings.kafka_idempotence
        )

    topics = service_topics(spec)

    async def provision_then(run: Callable[[], Awaitable[None]]) -> None:
        # A broker that is down at start-up must not keep the API from serving:
        # topics are provisioned in the background, then the loop starts.
        while not stop.is_set():
            try:
                await ensure_topics(
                    settings.kafka_bootstrap_servers,
                    topics,
                    partitions=settings.kafka_partitions,
                    replication_factor=settings.kafka_replication_factor,
                    attempts=1,
                )
                break
            except Exception as exc:
                log.warning("topics_unavailable", error=repr(exc))
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        if not stop.is_set():
            await run()

    tasks: list[asyncio.Task[None]] = []
    if settings.run_relay and spec.produces:
        relay = OutboxRelay(app.state.engine, producer, tracer=tracer)
        app.state.relay = relay

        async def run_relay() -> None:
            try:
                await relay.run(stop)
            finally:
                await relay.aclose()

        tasks.append(asyncio.create_task(provision_then(run_relay), name="relay"))
    if settings.run_consumers:
        app.state.consumers = []
        for c in spec.consumers:
            consumer = EventConsumer(
                group_id=settings.kafka_group_prefix + c.group_id,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                topics=c.topics,
                handlers=c.handlers,
                sessionmaker=app.state.sessionmaker,
                producer_factory=producer,
                max_attempts=settings.consumer_max_attempts,
                session_timeout_ms=settings.kafka_session_timeout_ms,
                heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
                fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
                tracer=tracer,
                batch_handler=c.batch_handler,
                on_applied=c.on_applied,
            )
            app.state.consumers.append(consumer)
            tasks.append(
                asyncio.create_task(
                    provision_then(functools.partial(consumer.run, stop)),
                    name=f"consumer:{c.group_id}",
                )
            )
    if settings.revocation_feed:
        # Not a ConsumerSpec: every replica needs every revocation, so the feed joins no
        # group, and it runs even where consumers do not (an HTTP-only replica verifies tokens).
        feed = RevocationFeed(
            app.state.revocations,
            settings.kafka_bootstrap_servers,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            name=f"{spec.name}-revocations",
        )
        tasks.append(
            asyncio.create_task(
                provision_then(functools.partial(feed.run, stop)), name="revocations"
            )
        )
    for worker in spec.workers:
        tasks.append(asyncio.create_task(worker(app, stop), name=getattr(worker, "__name__", "w")))
    return tasks


def create_service_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings
    tracer = tracing.tracer(spec.name)  # None unless OTEL_* turn traces on

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(spec.name, settings.log_level, json=settings.log_json)
        engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
        app.state.engine = engine
        if tracer is not None:
            tracing.trace_engine(engine, tracer)
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.revocations = RevocationList()
        app.state.token_verifier = TokenVerifier(
            issuer=settings.issuer,
            audience=settings.token_audience,
            jwks_url=settings.jwks_url,
            revocations=app.state.revocations,
        )
        app.state.cursors = CursorCodec(settings.cursor_secret)
        stop = asyncio.Event()
        app.state.stop = stop
        for hook in spec.on_startup:
            await hook(app)
        tasks = _background(spec, app, stop, tracer)
        log.info("service_started", port=settings.port)
        try:
            yield
        finally:
            stop.set()
            done, pending = await asyncio.wait(tasks, timeout=10) if tasks else (set(), set())
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error(
                        "background_task_failed", task=task.get_name(), error=repr(task.exception())
                    )
            for hook in spec.on_shutdown:
                await hook(app)
            await app.state.token_verifier.aclose()
            await engine.dispose()

    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version="1.0.0",
        lifespan=lifespan,
        openapi_tags=list(spec.tags) or None,
        # The docs page is served below from the pinned Swagger UI assets, not from a CDN.
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.topics = service_topics(spec)
    install_error_handlers(app)
    # Each middleware added wraps the ones before it: input out of bounds is refused before
    # routing, and every answer (refusals too) is logged and marked no-store as it leaves.
    app.add_middleware(InputEdge, limits=json_limits(settings))
    app.add_middleware(NoStoreWhenAuthenticated)
    install_observability(app, spec.name)
    if tracer is not None:
        # Outermost, so that the span covers every answer, refusals and errors included.
        app.add_middleware(tracing.TracingMiddleware, tracer=tracer)
    checks = {"database": database_check, "broker": kafka_check(settings.kafka_bootstrap_servers)}
    app.include_router(health_router(checks))
    for router in spec.routers:
        declare_route_scopes(router)
        app.include_router(router)
    # Event types are `<topic>.<event>.v1`: each goes under the topic it names.
    document = asyncapi_fragment(
        title=spec.title,
        topics={
            topic: {t: m for t, m in spec.events.items() if t.startswith(f"{topic}.")}
            for topic in spec.produces
        },
        bootstrap_servers=settings.kafka_bootstrap_servers,
    )

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> dict[str, Any]:
        return document

    _document_problems(app)
    _serve_docs(app)
    return app


def _serve_docs(app: FastAPI) -> None:
    """Swagger UI at /docs, its script and style from the swagger-ui-bundle package."""
    app.mount("/docs/assets", StaticFiles(directory=str(SWAGGER_UI)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title}: API reference",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
            init_oauth={"usePkceWithAuthorizationCodeGrant": True},
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def json_limits(settings: ServiceSettings) -> JsonLimits:
    return JsonLimits(
        max_bytes=settings.json_max_bytes,
        max_depth=settings.json_max_depth,
        max_keys=settings.json_max_keys,
        max_items=settings.json_max_items,
        max_string=settings.json_max_string,
    )


class NoStoreWhenAuthenticated:
    """Pure ASGI middleware: an answer to a request with credentials may carry personal data,
    so unless the handler chose its own Cache-Control (the catalog's public pages do), no
    browser or proxy cache may keep it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not any(
            name == b"authorization" for name, _ in scope["headers"]
        ):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)


def _document_problems(app: FastAPI) -> None:
    """Add the Problem schema, make FastAPI's 422 responses point at it, declare the 400
    that FastAPI answers to an undecodable body, and the security of each operation
    (portal_shared.openapi)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        schema["components"] = schema.get("components") or {}
        schema["components"]["securitySchemes"] = security_schemes(app.state.settings.issuer)
        components = schema["components"].setdefault("schemas", {})
        components["Problem"] = PROBLEM_SCHEMA
        # The effective routes, through FastAPI's included routers (as get_openapi walks them).
        routes = {
            (method.lower(), context.path_format): cast(RouteLike, context)
            for context in iter_route_contexts(app.routes)
            if isinstance(context.original_route, APIRoute)
            for method in context.methods or ()
        }
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                responses = operation.get("responses", {})
                if "requestBody" in operation:
                    # A body that is not even decodable is refused before validation, and
                    # one past the size bound before it is read to the end.
                    responses.setdefault(
                        "400",
                        {
                            "description": "The body cannot be parsed",
                            "content": {
                                PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
                            },
                        },
                    )
                    responses.setdefault(
                        "413",
                        {
                            "description": "The body is larger than the service takes",
                            "content": {
                                PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
                            },
                        },
                    )
                if "422" in responses:
                    responses["422"] = {
                        "description": "Validation failed",
                        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
                    }
                document_operation(operation, routes.get((method, path)))
        unique_titles(components)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
