"""The gateway's own endpoints: health, readiness, metrics, the merged documents, the docs page.

`/metrics` and the detailed `/readyz` (which service is not ready, and why) are
for operators: only clients in `INTERNAL_NETWORKS` get them. Anyone else gets a
plain readiness answer (200 or 503, nothing more) and no metrics, as if there
were none. The services' readiness is asked at most once a second, however
often the public asks, and only an operator can make the documents rebuild at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import Scope, Send

from gateway.docs import DOCS_ASSETS, DOCS_CSP, DOCS_HTML, Documents
from gateway.errors import MethodNotAllowed, RouteNotFound
from gateway.responses import PROBLEM_TYPE, send_json, send_whole
from gateway.settings import GatewaySettings
from portal_shared.errors import language_headers, problem_body
from portal_shared.i18n import negotiate, translate

LOCAL_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/openapi.json", "/asyncapi.json", "/docs", *DOCS_ASSETS}
)
# Seconds one round of readiness checks is reused for.
READY_TTL = 1.0

Handler = Callable[[Scope, Send, bool], Awaitable[None]]


class LocalEndpoints:
    def __init__(self, settings: GatewaySettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self.documents = Documents(settings, http)
        self.services = sorted({r.upstream for r in settings.routes})
        self._ready: tuple[float, dict[str, str]] | None = None
        self._handlers: dict[str, Handler] = {
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            "/metrics": self._metrics,
            "/openapi.json": self._openapi,
            "/asyncapi.json": self._asyncapi,
            "/docs": self._docs,
            **dict.fromkeys(DOCS_ASSETS, self._docs_asset),
        }

    async def answer(self, scope: Scope, reply: Send, *, internal: bool) -> None:
        """Answer one of `LOCAL_PATHS`; `internal` is whether the client is an operator's."""
        method: str = scope["method"]
        path: str = scope["path"]
        if method not in ("GET", "HEAD"):
            raise MethodNotAllowed(
                message_key="error.get-only", params={"path": path}, headers={"Allow": "GET, HEAD"}
            )
        await self._handlers[path](scope, reply, internal)

    async def _healthz(self, scope: Scope, reply: Send, internal: bool) -> None:
        await send_json(reply, 200, {"status": "ok"})

    async def _readyz(self, scope: Scope, reply: Send, internal: bool) -> None:
        results = await self._checks()
        if all(v == "ok" for v in results.values()):
            answer = {"status": "ready", "checks": results} if internal else {"status": "ready"}
            await send_json(reply, 200, answer)
            return
        wanted = next((v for k, v in scope["headers"] if k == b"accept-language"), b"")
        language = negotiate(wanted.decode("latin-1"))
        title = translate(language, "title.not-ready")
        if internal:
            checks = "; ".join(f"{k}: {v}" for k, v in results.items() if v != "ok")
            detail = translate(language, "error.not-ready-checks", {"checks": checks})
            body = problem_body(503, title, detail, checks=results)
        else:
            body = problem_body(503, title, translate(language, "error.portal-not-ready"))
        named = language_headers(language)
        headers = [PROBLEM_TYPE, *((k.lower().encode(), v.encode()) for k, v in named.items())]
        await send_whole(reply, 503, headers, body)

    async def _checks(self) -> dict[str, str]:
        if self._ready is not None and time.monotonic() < self._ready[0]:
            return self._ready[1]
        results = dict(
            zip(
                self.services,
                await asyncio.gather(*(self._check(s) for s in self.services)),
                strict=True,
            )
        )
        self._ready = (time.monotonic() + READY_TTL, results)
        return results

    async def _check(self, name: str) -> str:
        url = self.settings.upstreams[name].rstrip("/") + "/readyz"
        try:
            response = await self.http.get(url, timeout=2.0)
        except httpx.HTTPError as exc:
            return f"unavailable: {type(exc).__name__}"
        if response.status_code != 200:
            try:
                why = str(response.json().get("detail", response.status_code))
            except ValueError:
                why = str(response.status_code)
            return f"not ready: {why}"
        return "ok"

    async def _metrics(self, scope: Scope, reply: Send, internal: bool) -> None:
        if not internal:
            raise RouteNotFound(message_key="error.route-not-found", params={"path": scope["path"]})
        await send_whole(
            reply, 200, [(b"content-type", CONTENT_TYPE_LATEST.encode())], generate_latest()
        )

    @staticmethod
    def _refresh(scope: Scope) -> bool:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return query.get("refresh", ["false"])[0].lower() in ("1", "true", "yes")

    async def _openapi(self, scope: Scope, reply: Send, internal: bool) -> None:
        document = await self.documents.get("openapi", refresh=internal and self._refresh(scope))
        await send_json(reply, 200, document)

    async def _asyncapi(self, scope: Scope, reply: Send, internal: bool) -> None:
        document = await self.documents.get("asyncapi", refresh=internal and self._refresh(scope))
        await send_json(reply, 200, document)

    async def _docs(self, scope: Scope, reply: Send, internal: bool) -> None:
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-security-policy", DOCS_CSP.encode()),
        ]
        await send_whole(reply, 200, headers, DOCS_HTML)

    async def _docs_asset(self, scope: Scope, reply: Send, internal: bool) -> None:
        asset = DOCS_ASSETS[scope["path"]]
        headers = [
            (b"content-type", asset.content_type.encode()),
            (b"content-security-policy", DOCS_CSP.encode()),
            (b"cache-control", b"public, max-age=3600"),
        ]
        await send_whole(reply, 200, headers, asset.body)
