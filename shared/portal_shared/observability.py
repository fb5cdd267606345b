"""Health, readiness and Prometheus metrics, plus the request-id and metrics middleware.

The middleware is plain ASGI (not `BaseHTTPMiddleware`) so it adds no task
switch per request and leaves streaming bodies alone.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal_shared.errors import language_headers, request_language
from portal_shared.i18n import translate
from portal_shared.logging import REQUEST_ID_HEADER, clean_request_id, request_id_var

HTTP_REQUESTS = Counter(
    "portal_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "Time to handle an HTTP request",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class RequestContextMiddleware:
    """Sets the request id, echoes it back, and records latency per route template."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER.encode():
                incoming = value.decode("latin-1")
                break
        rid = clean_request_id(incoming)
        token = request_id_var.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, template).observe(
                time.perf_counter() - started
            )
            request_id_var.reset(token)


ReadinessCheck = Callable[[], Awaitable[None]]


# ApiVersions v0 (api key 18): the smallest request every Kafka broker answers. Asking it
# proves a broker is there, not just something that accepts TCP (a proxy, a balancer).
_API_VERSIONS_KEY = 18
_CORRELATION_ID = 0x0B4C
_CLIENT_ID = b"portal-readyz"


def _api_versions_request() -> bytes:
    body = struct.pack(">hhih", _API_VERSIONS_KEY, 0, _CORRELATION_ID, len(_CLIENT_ID))
    body += _CLIENT_ID
    return struct.pack(">i", len(body)) + body


async def _ask_broker(host: str, port: int) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(_api_versions_request())
        await writer.drain()
        size, correlation, error = struct.unpack(">iih", await reader.readexactly(10))
        if correlation != _CORRELATION_ID or size < 6:
            raise ConnectionError("the bootstrap server did not answer as a Kafka broker")
        if error != 0:
            raise ConnectionError(f"the Kafka broker answered ApiVersions with error {error}")
    finally:
        writer.close()


async def broker_reachable(bootstrap_servers: str, within: float = 1.0) -> None:
    """Raise unless one of the bootstrap servers answers a Kafka request in time."""
    last: Exception | None = None
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            await asyncio.wait_for(_ask_broker(host, int(port)), within)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
            last = exc
            continue
        return
    raise ConnectionError(f"no Kafka broker answers at {bootstrap_servers}: {last!r}")


def health_router(checks: dict[str, Callable[[Request], Awaitable[None]]]) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> Response:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(request), 2.0)
                results[name] = "ok"
            except Exception as exc:  # any failure means not ready; the name says why
                results[name] = f"unavailable: {type(exc).__name__}"
        ready = all(v == "ok" for v in results.values())
        body: dict[str, Any] = {"status": "ready" if ready else "unavailable", "checks": results}
        if ready:
            return JSONResponse(body)
        language = request_language(request)
        failed = "; ".join(f"{k}: {v}" for k, v in results.items() if v != "ok")
        return JSONResponse(
            {
                "type": "about:blank",
                "title": translate(language, "title.not-ready"),
                "status": 503,
                "detail": translate(language, "error.not-ready-checks", {"checks": failed}),
                "code": "not-ready",
                **body,
            },
            status_code=503,
            media_type="application/problem+json",
            headers=language_headers(language),
        )

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def database_check(request: Request) -> None:
    async with request.app.state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def kafka_check(bootstrap: str) -> Callable[[Request], Awaitable[None]]:
    async def check(_: Request) -> None:
        await broker_reachable(bootstrap)

    return check


def install_observability(app: FastAPI, service: str) -> None:
    app.add_middleware(RequestContextMiddleware, service=service)
