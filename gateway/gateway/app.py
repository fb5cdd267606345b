"""The gateway: a plain ASGI app that checks each request at the edge and streams it on.

No framework routing on the hot path (INFRA.md: that alone halves throughput):
one pass over the headers, then the checks in the order that keeps the
expensive ones for callers who passed the cheap ones: CORS origin (`cors`),
the gateway's own endpoints (`local`), a prefix match, body size and the rate
limit per address (`limits`), the token (`tokens`), the limit per subject, and
the forwarding (`proxy`, over `upstream`'s pooled connections). Every refusal
is a problem+json (`responses`), and every answer carries the request id and
the edge's headers. With tracing on (`portal_shared.tracing`), each request is a SERVER
span that continues the caller's `traceparent`, and the service gets the span's own.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, TypeVar

import httpx
import structlog
from prometheus_client import Counter
from starlette.types import Message, Receive, Scope, Send

from gateway import revocation
from gateway.addresses import ClientAddresses
from gateway.cors import Cors
from gateway.errors import ClientGone, InternalError, RouteNotFound
from gateway.limits import EdgeLimits, content_length
from gateway.local import LOCAL_PATHS, LocalEndpoints
from gateway.proxy import Caller, Proxy
from gateway.responses import security_headers, send_problem
from gateway.settings import GatewaySettings, get_settings
from gateway.tokens import edge_principal
from gateway.webapp import WebApp
from portal_shared import tracing
from portal_shared.auth import TokenVerifier
from portal_shared.errors import AppError, BadRequest
from portal_shared.i18n import negotiate
from portal_shared.logging import clean_request_id, configure_logging, request_id_var
from portal_shared.observability import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger(__name__)
_T = TypeVar("_T")

REFUSED = Counter(
    "portal_gateway_refused_total",
    "Requests turned away at the edge, by reason",
    ["reason"],
)


class Gateway:
    """The ASGI application (`create_app()` is the uvicorn factory)."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.cors = Cors(settings)
        self.limits = EdgeLimits(settings)
        self.addresses = ClientAddresses(settings.trusted_proxies, settings.internal_networks)
        self.edge_headers = [*security_headers(settings), *self.cors.always]
        # The built web app (web/dist), served at `/` for what no service route claims.
        self.webapp = WebApp.configured(settings.web_app_dir)
        tracer = tracing.tracer(settings.service_name)
        self.proxy = Proxy(settings, security_headers(settings), traced=tracer is not None)
        # Off (the default), requests take the untraced path with no extra call at all.
        self._traced = None if tracer is None else tracing.TracingMiddleware(self._http, tracer)
        self.verifier: TokenVerifier | None = None
        self.http: httpx.AsyncClient | None = None
        self.local: LocalEndpoints | None = None
        self._metrics: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._request_prefix = uuid.uuid4().hex[:16]
        self._request_count = 0

    # -- lifespan ---------------------------------------------------------------------

    async def startup(self) -> None:
        settings = self.settings
        configure_logging("gateway", settings.log_level, json=settings.log_json)
        self.proxy.start()
        self.verifier = revocation.verifier(settings)  # honours the identity's revocations
        self.http = httpx.AsyncClient(timeout=5.0)
        self.local = LocalEndpoints(settings, self.http)
        routes = [r.prefix for r in self.proxy.routes]
        shared = self.limits.counters.shared
        if shared and not await self.limits.counters.ping():
            # Not fatal: each limit's outage rule applies until Redis answers.
            log.warning("limit_store_unreachable_at_start")
        log.info("gateway_started", port=settings.port, routes=routes, shared_limits=shared)

    async def shutdown(self) -> None:
        await self.proxy.close()
        await self.limits.counters.aclose()
        if self.verifier is not None:
            await self.verifier.aclose()
        if self.http is not None:
            await self.http.aclose()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _new_request_id(self) -> str:
        # Unique, not secret: a per-process random prefix and a counter, so no
        # getrandom() call per request as uuid4() would make.
        self._request_count += 1
        return f"{self._request_prefix}{self._request_count:016x}"

    @staticmethod
    def _started(resource: _T | None) -> _T:
        if resource is None:
            raise RuntimeError("the gateway's lifespan has not started")
        return resource

    # -- requests ---------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if self._traced is None:
                await self._http(scope, receive, send)
            else:
                await self._traced(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            # WebSockets are not part of the portal's API; closing before accept refuses.
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        incoming_id = origin = authorization = host = None
        raw_length: bytes | None = None
        chunked = preflight = idempotency_key = False
        forwarded_for = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming_id = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"host":
                host = value
            elif name == b"content-length":
                raw_length = value
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"access-control-request-method":
                preflight = method == "OPTIONS"
            elif name == b"x-forwarded-for":
                # Several header lines are one comma-separated list (RFC 9110 5.3).
                forwarded_for = forwarded_for + b"," + value if forwarded_for else value
            elif name == b"idempotency-key":
                idempotency_key = True
        rid = clean_request_id(incoming_id) if incoming_id is not None else self._new_request_id()
        token = request_id_var.set(rid)
        extra = [(b"x-request-id", rid.encode()), *self.edge_headers]
        status = 0  # until the answer starts

        async def reply(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        label = "unmatched"
        try:
            if origin is not None:
                extra += self.cors.check(origin, scope.get("scheme", "http"), host)
                if preflight:
                    label = "preflight"
                    await self.cors.preflight(reply)
                    return
            client_addr = scope.get("client")
            peer = str(client_addr[0]) if client_addr else "unknown"
            if path in LOCAL_PATHS:
                label = path
                client = self.addresses.client(peer, forwarded_for)
                internal = self.addresses.is_internal(client)
                await self._started(self.local).answer(scope, reply, internal=internal)
                return
            if "/." in path and any(seg in (".", "..") for seg in path.split("/")):
                # A service might resolve dot segments differently from the prefix match:
                # refuse them rather than let one route's checks guard another's path.
                raise BadRequest(message_key="error.dot-segments")
            route = self.proxy.match(path)
            if route is None and self.webapp is not None:
                label = "/"
                if await self.webapp.serve(scope, reply):
                    return
            if route is None:
                raise RouteNotFound(message_key="error.route-not-found", params={"path": path})
            label = route.prefix
            length = None if raw_length is None else content_length(raw_length, route.max_body)
            client = self.addresses.client(peer, forwarded_for)
            await self.limits.address(method, path, client)
            principal = await edge_principal(
                self._started(self.verifier), authorization, public=route.is_public(method)
            )
            if principal is not None:
                await self.limits.subject(method, path, principal.subject)
            caller = Caller(
                rid=rid,
                client=client,
                via_trusted_proxy=self.addresses.peer_is_trusted(peer),
                host=host,
                content_length=length,
                chunked=chunked,
                idempotency_key=idempotency_key,
            )
            await self.proxy.forward(scope, receive, reply, route, caller)
        except AppError as exc:
            await self._problem(reply, exc, scope)
        except ClientGone:
            status = 499  # nginx's convention for "the client went away"
        except Exception:
            if status:
                # The answer has started: cutting the connection is the only honest signal.
                raise
            log.exception("gateway_error", path=path)
            failure = InternalError(message_key="error.gateway-internal")
            await self._problem(reply, failure, scope)
        finally:
            self._observe(method, label, status or 500, time.perf_counter() - started)
            if self._traced is not None:
                scope[tracing.ROUTE_KEY] = label  # names the span (prefix, not path)
            request_id_var.reset(token)

    async def _problem(self, reply: Send, exc: AppError, scope: Scope) -> None:
        REFUSED.labels(exc.slug).inc()
        # Negotiated only here, on the way to a problem, so answers that pass cost nothing.
        wanted = next((v for k, v in scope["headers"] if k == b"accept-language"), b"")
        await send_problem(reply, exc, scope["path"], negotiate(wanted.decode("latin-1")))

    def _observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        key = (method, route, status)
        children = self._metrics.get(key)
        if children is None:
            children = (
                HTTP_REQUESTS.labels("gateway", method, route, str(status)),
                HTTP_LATENCY.labels("gateway", method, route),
            )
            # Unknown paths all share "unmatched", so the label set stays small.
            self._metrics[key] = children
        children[0].inc()
        children[1].observe(elapsed)


def create_app(settings: GatewaySettings | None = None) -> Gateway:
    return Gateway(settings or get_settings())
