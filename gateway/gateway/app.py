"""The gateway: a plain ASGI app that checks each request at the edge and streams it on.

No framework routing on the hot path (INFRA.md: that alone halves throughput):
one pass over the headers, a prefix match, then the checks in the order that
keeps the expensive ones for callers who passed the cheap ones: CORS origin,
body size, rate limit per address, token, rate limit per subject. The request
and the answer are streamed through `gateway.upstream`'s pooled connections.
The gateway's own endpoints (health, readiness, metrics, the merged documents
and the docs page) are answered here, before any route.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from starlette.types import Message, Receive, Scope, Send

from gateway.docs import DOCS_CSP, DOCS_HTML, Documents
from gateway.errors import (
    BadGateway,
    ClientGone,
    GatewayTimeout,
    InternalError,
    MethodNotAllowed,
    OriginNotAllowed,
    RouteNotFound,
    UpstreamDown,
)
from gateway.ratelimit import Limit, TokenBuckets, retry_after
from gateway.settings import GatewaySettings, RouteConfig, get_settings
from gateway.upstream import (
    Pool,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamResponse,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from gateway.webapp import WebApp
from portal_shared.auth import Principal, TokenVerifier
from portal_shared.errors import (
    PROBLEM_JSON,
    AppError,
    BadRequest,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
)
from portal_shared.logging import clean_request_id, configure_logging, request_id_var
from portal_shared.observability import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger(__name__)
_T = TypeVar("_T")

UPSTREAM_FAILURES = Counter(
    "portal_gateway_upstream_failures_total",
    "Requests the gateway could not get answered by a service",
    ["upstream", "kind"],
)
REFUSED = Counter(
    "portal_gateway_refused_total",
    "Requests turned away at the edge, by reason",
    ["reason"],
)

# RFC 9110 7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# The gateway re-frames the body, owns the request id and writes X-Forwarded-* itself.
DROP_FROM_REQUEST = HOP_BY_HOP | {
    b"content-length",
    b"expect",
    b"x-request-id",
    b"forwarded",
    b"x-real-ip",
}
FORWARDED = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"})
DROP_FROM_RESPONSE = HOP_BY_HOP | {b"x-request-id", b"date", b"server"}

CORS_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE"
CORS_HEADERS = (
    b"authorization, content-type, accept, accept-language, idempotency-key, if-match,"
    b" if-none-match, x-request-id"
)
CORS_EXPOSE = b"x-request-id, retry-after, location, etag, www-authenticate"
CSP_STRICT = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
CSP_HTML = (b"content-security-policy", b"frame-ancestors 'none'")
LOCAL_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/openapi.json", "/asyncapi.json", "/docs"}
)


@dataclass(frozen=True)
class Route:
    prefix: str
    slash_prefix: str
    upstream: str
    pool: Pool
    public_methods: frozenset[str]
    timeout: float
    max_body: int

    def matches(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.slash_prefix)

    def is_public(self, method: str) -> bool:
        return "*" in self.public_methods or method in self.public_methods


class Gateway:
    """The ASGI application (`create_app()` is the uvicorn factory)."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.cors_origins = frozenset(settings.cors_origins)
        public = urlsplit(settings.public_url)
        self.public_origin = f"{public.scheme}://{public.netloc}"
        self.strict = frozenset(
            (m.upper(), p.rstrip("/") or "/")
            for m, _, p in (e.partition(" ") for e in settings.strict_endpoints)
        )
        self.limits = {
            "ip": TokenBuckets(
                Limit(settings.rate_limit_ip_per_second, settings.rate_limit_ip_burst)
            ),
            "subject": TokenBuckets(
                Limit(settings.rate_limit_subject_per_second, settings.rate_limit_subject_burst)
            ),
            "strict_ip": TokenBuckets(
                Limit(settings.strict_limit_ip_per_second, settings.strict_limit_ip_burst)
            ),
            "strict_subject": TokenBuckets(
                Limit(settings.strict_limit_subject_per_second, settings.strict_limit_subject_burst)
            ),
        }
        self.security_headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if settings.cors_origins:
            # Answers differ by Origin (the allow-origin header), so caches must key on it.
            self.security_headers.append((b"vary", b"origin"))
        if settings.hsts:
            self.security_headers.append(
                (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
            )
        self.pools: dict[str, Pool] = {}
        self.routes: list[Route] = []
        self.verifier: TokenVerifier | None = None
        self.http: httpx.AsyncClient | None = None
        self.documents: Documents | None = None
        self.webapp = WebApp.configured(settings.web_app_dir)
        self._metrics: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._request_prefix = uuid.uuid4().hex[:16]
        self._request_count = 0

    # -- lifespan ---------------------------------------------------------------------

    async def startup(self) -> None:
        settings = self.settings
        configure_logging("gateway", settings.log_level, json=settings.log_json)
        for name, url in settings.upstreams.items():
            self.pools[name] = Pool(
                url,
                max_connections=settings.upstream_max_connections,
                connect_timeout=settings.upstream_connect_timeout,
                idle_timeout=settings.upstream_idle_timeout,
            )
        self.routes = [self._route(r) for r in settings.routes]
        self.routes.sort(key=lambda r: len(r.prefix), reverse=True)
        self.verifier = TokenVerifier(
            issuer=settings.issuer, audience=settings.token_audience, jwks_url=settings.jwks_url
        )
        self.http = httpx.AsyncClient(timeout=5.0)
        self.documents = Documents(settings, self.http)
        log.info("gateway_started", port=settings.port, routes=[r.prefix for r in self.routes])

    def _route(self, config: RouteConfig) -> Route:
        return Route(
            prefix=config.prefix,
            slash_prefix=config.prefix.rstrip("/") + "/",
            upstream=config.upstream,
            pool=self.pools[config.upstream],
            public_methods=frozenset(m.upper() for m in config.public_methods),
            timeout=config.timeout or self.settings.upstream_timeout,
            max_body=(
                self.settings.max_body_bytes
                if config.max_body_bytes is None
                else config.max_body_bytes
            ),
        )

    async def shutdown(self) -> None:
        for pool in self.pools.values():
            await pool.close()
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
            await self._http(scope, receive, send)
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
        chunked = False
        preflight = False
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
                forwarded_for = value
        rid = clean_request_id(incoming_id) if incoming_id is not None else self._new_request_id()
        token = request_id_var.set(rid)
        extra = [(b"x-request-id", rid.encode()), *self.security_headers]
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
                same_origin = self._same_origin(origin, scope, host)
                if not same_origin and origin not in self.cors_origins:
                    raise OriginNotAllowed(
                        f"The origin {origin} may not call this API from a browser; "
                        "ask for it to be added to the gateway's CORS_ORIGINS"
                    )
                if not same_origin:
                    extra += [
                        (b"access-control-allow-origin", origin.encode()),
                        (b"access-control-expose-headers", CORS_EXPOSE),
                    ]
                if preflight:
                    label = "preflight"
                    await self._preflight(reply)
                    return
            if path in LOCAL_PATHS:
                label = path
                await self._local(scope, reply)
                return
            if "/." in path and any(seg in (".", "..") for seg in path.split("/")):
                # A service might resolve dot segments differently from the prefix match:
                # refuse them rather than let one route's checks guard another's path.
                raise BadRequest("The path must not contain '.' or '..' segments")
            route = self._match(path)
            if route is None and self.webapp is not None and await self.webapp.serve(scope, reply):
                return
            if route is None:
                raise RouteNotFound(f"No service answers {path}; see /docs for the API")
            label = route.prefix
            content_length = None if raw_length is None else _content_length(raw_length)
            await self._forward(
                scope, receive, reply, route, rid,
                authorization=authorization, content_length=content_length,
                chunked=chunked, forwarded_for=forwarded_for, host=host,
            )  # fmt: skip
        except AppError as exc:
            await self._problem(reply, exc, path)
        except ClientGone:
            status = 499  # nginx's convention for "the client went away"
        except Exception:
            if status:
                # The answer has started: cutting the connection is the only honest signal.
                raise
            log.exception("gateway_error", path=path)
            failure = InternalError("The gateway failed to handle the request; it has been logged")
            await self._problem(reply, failure, path)
        finally:
            self._observe(method, label, status or 500, time.perf_counter() - started)
            request_id_var.reset(token)

    def _same_origin(self, origin: str, scope: Scope, host: bytes | None) -> bool:
        if origin == self.public_origin:
            return True
        # A same-origin request (the login form posting back) names our own host.
        return (
            host is not None
            and origin == f"{scope.get('scheme', 'http')}://{host.decode('latin-1')}"
        )

    async def _preflight(self, reply: Send) -> None:
        await reply(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [
                    (b"access-control-allow-methods", CORS_METHODS),
                    (b"access-control-allow-headers", CORS_HEADERS),
                    (b"access-control-max-age", str(self.settings.cors_max_age).encode()),
                ],
            }
        )
        await reply({"type": "http.response.body", "body": b""})

    def _match(self, path: str) -> Route | None:
        for route in self.routes:
            if route.matches(path):
                return route
        return None

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

    async def _problem(self, reply: Send, exc: AppError, path: str) -> None:
        body: dict[str, Any] = {
            "type": exc.type_uri(),
            "title": exc.title,
            "status": exc.status,
            "detail": exc.detail,
            "instance": path,
            **exc.extra,
        }
        REFUSED.labels(exc.slug).inc()
        headers = [(b"content-type", PROBLEM_JSON.encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
        await _send_whole(reply, exc.status, headers, orjson.dumps(body))

    # -- the checks, then the upstream --------------------------------------------------

    def _client_address(self, scope: Scope, forwarded_for: bytes) -> str:
        if self.settings.trust_forwarded_headers and forwarded_for:
            # The trusted balancer appends the address it saw last.
            return forwarded_for.decode("latin-1").rsplit(",", 1)[-1].strip()
        client = scope.get("client")
        return str(client[0]) if client else "unknown"

    def _limit(self, bucket: str, key: str, who: str) -> None:
        wait = self.limits[bucket].take(key)
        if wait:
            raise TooManyRequests(
                f"Too many requests from this {who}; retry after {retry_after(wait)} s",
                headers={"Retry-After": retry_after(wait)},
            )

    async def _principal(self, authorization: str) -> Principal:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized(
                "The Authorization header must be 'Bearer <token>'",
                headers={"WWW-Authenticate": 'Bearer error="invalid_request"'},
            )
        try:
            # The verifier keeps what it verified (a minute at most), so a client's
            # repeated calls cost a dictionary lookup here.
            return await self._started(self.verifier).verify(token)
        except Unauthorized as exc:
            exc.headers.setdefault(
                "WWW-Authenticate",
                f'Bearer error="invalid_token", error_description="{exc.detail}"',
            )
            raise

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        reply: Send,
        route: Route,
        rid: str,
        *,
        authorization: str | None,
        content_length: int | None,
        chunked: bool,
        forwarded_for: bytes,
        host: bytes | None,
    ) -> None:
        method: str = scope["method"]
        limit = route.max_body
        if content_length is not None and content_length > limit:
            raise PayloadTooLarge(
                f"The request body is {content_length} bytes; the limit is {limit} bytes"
            )
        client = self._client_address(scope, forwarded_for)
        strict = (method, scope["path"].rstrip("/") or "/") in self.strict
        self._limit("strict_ip" if strict else "ip", client, "address")
        principal: Principal | None = None
        # A token is checked wherever one is sent: an invalid one never reaches a service.
        # (Basic credentials are a client's, for the token endpoint: identity checks them.)
        if authorization is not None and authorization.split(" ", 1)[0].lower() == "bearer":
            principal = await self._principal(authorization)
        if principal is None and not route.is_public(method):
            raise Unauthorized(
                "This endpoint needs a bearer access token", headers={"WWW-Authenticate": "Bearer"}
            )
        if principal is not None:
            self._limit("strict_subject" if strict else "subject", principal.subject, "account")

        headers = self._upstream_headers(scope, rid, host, forwarded_for)
        body: AsyncIterator[bytes] | None = None
        if content_length is not None:
            headers.append((b"content-length", str(content_length).encode()))
            body = _receive_body(receive, limit)
        elif chunked:
            headers.append((b"transfer-encoding", b"chunked"))
            body = _receive_body(receive, limit)
        query: bytes = scope.get("query_string", b"")
        target: bytes = scope.get("raw_path") or scope["path"].encode()
        if query:
            target += b"?" + query
        try:
            response = await route.pool.request(
                method, target, headers, body, chunked=body is not None and chunked,
                answer_within=route.timeout,
            )  # fmt: skip
        except UpstreamUnreachable as exc:
            UPSTREAM_FAILURES.labels(route.upstream, "unreachable").inc()
            log.warning("upstream_unreachable", upstream=route.upstream, error=str(exc))
            raise UpstreamDown(
                f"The {route.upstream} service is not reachable right now; retry shortly",
                headers={"Retry-After": "5"},
            ) from exc
        except UpstreamTimeout as exc:
            UPSTREAM_FAILURES.labels(route.upstream, "timeout").inc()
            log.warning("upstream_timeout", upstream=route.upstream, timeout=route.timeout)
            raise GatewayTimeout(
                f"The {route.upstream} service did not answer within {route.timeout:g} s"
            ) from exc
        except UpstreamProtocolError as exc:
            UPSTREAM_FAILURES.labels(route.upstream, "protocol").inc()
            log.warning("upstream_broken", upstream=route.upstream, error=str(exc))
            raise BadGateway(
                f"The {route.upstream} service gave no valid answer; retry shortly"
            ) from exc
        await self._relay(reply, response, route)

    def _upstream_headers(
        self, scope: Scope, rid: str, host: bytes | None, forwarded_for: bytes
    ) -> list[tuple[bytes, bytes]]:
        trusted = self.settings.trust_forwarded_headers
        connection_listed: set[bytes] = set()
        headers: list[tuple[bytes, bytes]] = []
        for name, value in scope["headers"]:
            if name == b"connection":
                connection_listed.update(v.strip().lower() for v in value.split(b","))
            if name in DROP_FROM_REQUEST or name == b"x-forwarded-for":
                continue
            # At the edge a caller's claims about its origin are not believed.
            if name in FORWARDED and not trusted:
                continue
            headers.append((name, value))
        if connection_listed:
            headers = [(n, v) for n, v in headers if n not in connection_listed]
        client = scope.get("client")
        peer = str(client[0]).encode() if client else b"unknown"
        chain = forwarded_for + b", " + peer if trusted and forwarded_for else peer
        headers.append((b"x-forwarded-for", chain))
        if not trusted:
            headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
            if host is not None:
                headers.append((b"x-forwarded-host", host))
        headers.append((b"x-request-id", rid.encode()))
        return headers

    async def _relay(self, reply: Send, response: UpstreamResponse, route: Route) -> None:
        connection_listed: set[bytes] = set()
        csp = html = False
        for name, value in response.headers:
            if name == b"connection":
                connection_listed.update(v.strip().lower() for v in value.split(b","))
            elif name == b"content-security-policy":
                csp = True
            elif name == b"content-type":
                html = value.startswith(b"text/html")
        headers = [
            (n, v)
            for n, v in response.headers
            if n not in DROP_FROM_RESPONSE and n not in connection_listed
        ]
        if not csp:
            # A service's HTML page (the login form) keeps its own resources, but no
            # other site may frame it; anything else loads nothing at all.
            headers.append(CSP_HTML if html else CSP_STRICT)
        try:
            whole = response.whole_body()
            if whole is not None:
                # The common case: a small answer that arrived with its head.
                await reply(
                    {"type": "http.response.start", "status": response.status, "headers": headers}
                )
                await reply({"type": "http.response.body", "body": whole})
                return
            await reply(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            try:
                async for chunk in response.body():
                    await reply({"type": "http.response.body", "body": chunk, "more_body": True})
            except UpstreamError as exc:
                # The status line is gone already; all that is left is to cut the
                # connection so the caller sees a truncated answer, not a complete one.
                UPSTREAM_FAILURES.labels(route.upstream, "truncated").inc()
                log.warning("upstream_truncated", upstream=route.upstream, error=str(exc))
                raise
            await reply({"type": "http.response.body", "body": b""})
        finally:
            response.release()

    # -- the gateway's own endpoints ------------------------------------------------------

    async def _local(self, scope: Scope, reply: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        if method not in ("GET", "HEAD"):
            raise MethodNotAllowed(f"{path} answers GET only", headers={"Allow": "GET, HEAD"})
        handlers: dict[str, Callable[[Scope, Send], Awaitable[None]]] = {
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            "/metrics": self._metrics_endpoint,
            "/openapi.json": self._openapi,
            "/asyncapi.json": self._asyncapi,
            "/docs": self._docs,
        }
        await handlers[path](scope, reply)

    async def _healthz(self, scope: Scope, reply: Send) -> None:
        await _send_json(reply, 200, {"status": "ok"})

    async def _readyz(self, scope: Scope, reply: Send) -> None:
        http = self._started(self.http)
        services = sorted({r.upstream for r in self.routes})

        async def check(name: str) -> str:
            try:
                response = await http.get(
                    self.settings.upstreams[name].rstrip("/") + "/readyz", timeout=2.0
                )
            except httpx.HTTPError as exc:
                return f"unavailable: {type(exc).__name__}"
            if response.status_code != 200:
                try:
                    why = str(response.json().get("detail", response.status_code))
                except ValueError:
                    why = str(response.status_code)
                return f"not ready: {why}"
            return "ok"

        results = dict(
            zip(services, await asyncio.gather(*(check(s) for s in services)), strict=True)
        )
        if all(v == "ok" for v in results.values()):
            await _send_json(reply, 200, {"status": "ready", "checks": results})
            return
        detail = "; ".join(f"{k}: {v}" for k, v in results.items() if v != "ok")
        body = {
            "type": "about:blank",
            "title": "Not ready",
            "status": 503,
            "detail": detail,
            "checks": results,
        }
        await _send_whole(
            reply, 503, [(b"content-type", PROBLEM_JSON.encode())], orjson.dumps(body)
        )

    async def _metrics_endpoint(self, scope: Scope, reply: Send) -> None:
        await _send_whole(
            reply, 200, [(b"content-type", CONTENT_TYPE_LATEST.encode())], generate_latest()
        )

    def _refresh(self, scope: Scope) -> bool:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return query.get("refresh", ["false"])[0].lower() in ("1", "true", "yes")

    async def _openapi(self, scope: Scope, reply: Send) -> None:
        document = await self._started(self.documents).get("openapi", refresh=self._refresh(scope))
        await _send_json(reply, 200, document)

    async def _asyncapi(self, scope: Scope, reply: Send) -> None:
        document = await self._started(self.documents).get("asyncapi", refresh=self._refresh(scope))
        await _send_json(reply, 200, document)

    async def _docs(self, scope: Scope, reply: Send) -> None:
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-security-policy", DOCS_CSP.encode()),
        ]
        await _send_whole(reply, 200, headers, DOCS_HTML)


def _content_length(value: bytes) -> int:
    # uvicorn's parser refuses most malformed values; this catches what it lets by.
    if not value.strip().isdigit():
        raise BadRequest("The Content-Length header is not a number")
    return int(value)


async def _receive_body(receive: Receive, limit: int) -> AsyncIterator[bytes]:
    """The caller's body, piece by piece as uvicorn reads it, cut off past `limit` bytes."""
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"The request body is over the limit of {limit} bytes")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _send_whole(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    if not any(name == b"content-security-policy" for name, _ in headers):
        headers.append(CSP_STRICT)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, payload: Any) -> None:
    await _send_whole(send, status, [(b"content-type", b"application/json")], orjson.dumps(payload))


def create_app(settings: GatewaySettings | None = None) -> Gateway:
    return Gateway(settings or get_settings())
