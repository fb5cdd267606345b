"""Forwarding: the route table, the headers a service gets, and the answer relayed back.

Paths go on unchanged (services serve them as the public sees them). Hop-by-hop
headers stop here; the gateway writes `X-Forwarded-*` and the request id itself, and,
when tracing is on, the `traceparent` of its own span.
Bodies stream both ways through `gateway.upstream`'s pooled connections, except
a small body of declared size, which is read whole first so that it can be sent
again if a pooled connection turns out to be dead (see `Pool.request`).
Upstream failures become problems: down 503, too slow 504, broken answer 502.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog
from prometheus_client import Counter
from starlette.types import Receive, Scope, Send

from gateway.errors import BadGateway, GatewayTimeout, UpstreamDown
from gateway.limits import read_body, receive_body
from gateway.responses import CSP_HTML, CSP_STRICT, Headers
from gateway.settings import GatewaySettings, RouteConfig
from gateway.upstream import (
    Pool,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamResponse,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from portal_shared.tracing import inject_headers

log = structlog.get_logger(__name__)

UPSTREAM_FAILURES = Counter(
    "portal_gateway_upstream_failures_total",
    "Requests the gateway could not get answered by a service",
    ["upstream", "kind"],
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
    b"x-forwarded-for",
}
FORWARDED = frozenset({b"x-forwarded-proto", b"x-forwarded-host"})
DROP_FROM_RESPONSE = HOP_BY_HOP | {b"x-request-id", b"date", b"server"}

# Bodies up to this size, with a Content-Length, are read whole before they are sent.
REPLAYABLE_BODY = 64 * 1024
# RFC 9110 9.2.2: sending these twice has the effect of sending them once.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


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


@dataclass(slots=True)
class Caller:
    """What the edge learnt about the request while checking it, for the service to know."""

    rid: str
    client: str
    # The peer is one of our proxies: its X-Forwarded-Proto/Host are the truth.
    via_trusted_proxy: bool
    host: bytes | None
    content_length: int | None
    chunked: bool
    idempotency_key: bool


class Proxy:
    def __init__(
        self, settings: GatewaySettings, security_headers: Headers, *, traced: bool = False
    ) -> None:
        self.settings = settings
        # Off, a caller's traceparent goes on untouched like any other header.
        self.traced = traced
        self.pools: dict[str, Pool] = {}
        self.routes: list[Route] = []
        # The edge's security headers replace a service's copies (each is sent once).
        self.drop_from_response = DROP_FROM_RESPONSE | {name for name, _ in security_headers}

    def start(self) -> None:
        settings = self.settings
        for name, url in settings.upstreams.items():
            self.pools[name] = Pool(
                url,
                max_connections=settings.upstream_max_connections,
                connect_timeout=settings.upstream_connect_timeout,
                idle_timeout=settings.upstream_idle_timeout,
            )
        self.routes = [self._route(r) for r in settings.routes]
        self.routes.sort(key=lambda r: len(r.prefix), reverse=True)

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

    async def close(self) -> None:
        for pool in self.pools.values():
            await pool.close()

    def match(self, path: str) -> Route | None:
        for route in self.routes:
            if route.matches(path):
                return route
        return None

    async def forward(
        self, scope: Scope, receive: Receive, reply: Send, route: Route, caller: Caller
    ) -> None:
        method: str = scope["method"]
        headers = self._upstream_headers(scope, caller)
        body: bytes | AsyncIterator[bytes] | None = None
        length = caller.content_length
        if length is not None:
            headers.append((b"content-length", str(length).encode()))
            if length <= REPLAYABLE_BODY:
                body = await read_body(receive, route.max_body)
            else:
                body = receive_body(receive, route.max_body)
        elif caller.chunked:
            headers.append((b"transfer-encoding", b"chunked"))
            body = receive_body(receive, route.max_body)
        query: bytes = scope.get("query_string", b"")
        target: bytes = scope.get("raw_path") or scope["path"].encode()
        if query:
            target += b"?" + query
        try:
            response = await route.pool.request(
                method, target, headers, body, chunked=length is None and caller.chunked,
                answer_within=route.timeout,
                idempotent=method in IDEMPOTENT or caller.idempotency_key,
            )  # fmt: skip
        except UpstreamUnreachable as exc:
            UPSTREAM_FAILURES.labels(route.upstream, "unreachable").inc()
            log.warning("upstream_unreachable", upstream=route.upstream, error=str(exc))
            raise UpstreamDown(
                message_key="error.upstream-down",
                params={"upstream": route.upstream},
                headers={"Retry-After": "5"},
            ) from exc
        except UpstreamTimeout as exc:
            UPSTREAM_FAILURES.labels(route.upstream, "timeout").inc()
            log.warning("upstream_timeout", upstream=route.upstream, timeout=route.timeout)
            raise GatewayTimeout(
                message_key="error.upstream-timeout",
                params={"upstream": route.upstream, "seconds": f"{route.timeout:g}"},
            ) from exc
        except UpstreamProtocolError as exc:
            UPSTREAM_FAILURES.labels(route.upstream, "protocol").inc()
            log.warning("upstream_broken", upstream=route.upstream, error=str(exc))
            raise BadGateway(
                message_key="error.upstream-broken", params={"upstream": route.upstream}
            ) from exc
        await self._relay(reply, response, route)

    def _upstream_headers(self, scope: Scope, caller: Caller) -> Headers:
        trusted = caller.via_trusted_proxy
        connection_listed: set[bytes] = set()
        headers: Headers = []
        kept: set[bytes] = set()
        for name, value in scope["headers"]:
            if name == b"connection":
                connection_listed.update(v.strip().lower() for v in value.split(b","))
            if name in DROP_FROM_REQUEST:
                continue
            if name in FORWARDED:
                # Only our own proxy may say what the scheme and host were.
                if not trusted:
                    continue
                kept.add(name)
            headers.append((name, value))
        if connection_listed:
            headers = [(n, v) for n, v in headers if n not in connection_listed]
        # The one address the gateway settled on: services behind it trust it as a single
        # hop, so what lies beyond (spoofable, or our own proxies) is not passed on.
        headers.append((b"x-forwarded-for", caller.client.encode()))
        if b"x-forwarded-proto" not in kept:
            headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
        if b"x-forwarded-host" not in kept and caller.host is not None:
            headers.append((b"x-forwarded-host", caller.host))
        headers.append((b"x-request-id", caller.rid.encode()))
        if self.traced:
            inject_headers(headers)
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
        drop = self.drop_from_response
        headers = [
            (n, v) for n, v in response.headers if n not in drop and n not in connection_listed
        ]
        if not csp:
            # A service's HTML page (the login form) keeps its own resources, but no
            # other site may frame it; anything else loads nothing at all.
            headers.append(CSP_HTML if html else CSP_STRICT)
        start = {"type": "http.response.start", "status": response.status, "headers": headers}
        try:
            whole = response.whole_body()
            if whole is not None:
                # The common case: a small answer that arrived with its head.
                await reply(start)
                await reply({"type": "http.response.body", "body": whole})
                return
            await reply(start)
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
