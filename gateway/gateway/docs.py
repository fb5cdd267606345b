"""The portal's one OpenAPI document and one AsyncAPI document, merged from the services'.

Each service serves its own `/openapi.json` and `/asyncapi.json`; the gateway
fetches them, keeps the paths that its routes send to that service (so the
document shows exactly what is reachable from outside), and merges the
components. Two services may use one component name for different things: the
later one is then renamed `<service>_<name>` and its `$ref`s rewritten. The
result is cached for `docs_ttl` seconds (a few seconds only while a service is
missing from it), and `?refresh=true` rebuilds it on demand.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from importlib import resources
from typing import Any

import httpx
import structlog

from gateway.settings import GatewaySettings

log = structlog.get_logger(__name__)

# A document missing a service is retried sooner: the service is probably starting.
PARTIAL_TTL = 5.0


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value in renames:
                out[key] = renames[value]
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _merge_components(
    merged: dict[str, dict[str, Any]], incoming: dict[str, Any], service: str, prefix: str
) -> dict[str, str]:
    """Add `incoming` components into `merged`; return the `$ref` renames for collisions."""
    renames: dict[str, str] = {}
    for section, items in incoming.items():
        if not isinstance(items, dict):
            continue
        target = merged.setdefault(section, {})
        for name, value in items.items():
            if name in target and target[name] != value:
                renames[f"{prefix}/{section}/{name}"] = f"{prefix}/{section}/{service}_{name}"
    for section, items in incoming.items():
        if not isinstance(items, dict):
            continue
        target = merged[section]
        for name, value in items.items():
            ref = f"{prefix}/{section}/{name}"
            new_name = renames[ref].rsplit("/", 1)[1] if ref in renames else name
            target[new_name] = _rewrite_refs(value, renames)
    return renames


def _routed(path: str, prefixes: list[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def merge_openapi(
    documents: dict[str, dict[str, Any]], prefixes: dict[str, list[str]], public_url: str
) -> dict[str, Any]:
    """One OpenAPI 3.1 document from each service's, keeping the paths routed to it."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Baikonur state-services portal",
            "version": "1.0.0",
            "description": (
                "The whole public API, as served through the gateway. Errors are"
                " application/problem+json (RFC 9457). Events are described in /asyncapi.json."
            ),
        },
        "servers": [{"url": public_url.rstrip("/")}],
        "paths": {},
        "components": {},
        "tags": [],
    }
    components: dict[str, dict[str, Any]] = merged["components"]
    seen_tags: set[str] = set()
    seen_operations: set[str] = set()
    for service, document in documents.items():
        renames = _merge_components(
            components, document.get("components") or {}, service, "#/components"
        )
        for path, item in (document.get("paths") or {}).items():
            if not _routed(path, prefixes.get(service, [])):
                continue
            item = _rewrite_refs(item, renames)
            for operation in item.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    if operation["operationId"] in seen_operations:
                        operation["operationId"] = f"{service}_{operation['operationId']}"
                    seen_operations.add(operation["operationId"])
            merged["paths"][path] = item
        for tag in document.get("tags") or []:
            if isinstance(tag, dict) and tag.get("name") not in seen_tags:
                seen_tags.add(str(tag.get("name")))
                merged["tags"].append(tag)
    merged["paths"] = dict(sorted(merged["paths"].items()))
    return merged


def merge_asyncapi(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One AsyncAPI 3.0 document: every service's channels, operations and messages."""
    merged: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Baikonur state-services portal events",
            "version": "1.0.0",
            "description": (
                "Kafka topics, one per aggregate, with CloudEvents 1.0 in binary content"
                " mode; delivery is at least once, in order per key."
            ),
        },
        "channels": {},
        "operations": {},
        "components": {},
    }
    for service, document in documents.items():
        renames = _merge_components(
            merged["components"], document.get("components") or {}, service, "#/components"
        )
        for section in ("channels", "operations"):
            for name, value in (document.get(section) or {}).items():
                key = name if name not in merged[section] else f"{service}_{name}"
                merged[section][key] = _rewrite_refs(value, renames)
    return merged


class Documents:
    """Fetches, merges and caches the documents."""

    def __init__(self, settings: GatewaySettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self.prefixes: dict[str, list[str]] = {}
        for route in settings.routes:
            self.prefixes.setdefault(route.upstream, []).append(route.prefix)
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = asyncio.Lock()

    async def _fetch_all(self, path: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
        upstreams = self.settings.upstreams

        async def fetch(service: str) -> dict[str, Any]:
            response = await self.http.get(upstreams[service].rstrip("/") + path)
            response.raise_for_status()
            document: dict[str, Any] = response.json()
            return document

        services = list(self.prefixes)
        results = await asyncio.gather(*(fetch(s) for s in services), return_exceptions=True)
        documents: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        for service, result in zip(services, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("document_unavailable", service=service, path=path, error=repr(result))
                missing.append(service)
            else:
                documents[service] = result
        return documents, missing

    async def get(self, kind: str, *, refresh: bool = False) -> dict[str, Any]:
        """`kind` is "openapi" or "asyncapi"."""
        async with self._lock:
            cached = self._cache.get(kind)
            if cached and not refresh and time.monotonic() < cached[0]:
                return cached[1]
            documents, missing = await self._fetch_all(f"/{kind}.json")
            if kind == "openapi":
                merged = merge_openapi(documents, self.prefixes, self.settings.public_url)
            else:
                merged = merge_asyncapi(documents)
            if missing:
                merged["x-unavailable-services"] = missing
            ttl = PARTIAL_TTL if missing else self.settings.docs_ttl
            self._cache[kind] = (time.monotonic() + ttl, merged)
            return merged


_STATIC = resources.files("gateway") / "static"

# The docs page renders /openapi.json itself: no CDN is reachable, and a page
# that fetches nothing from elsewhere works offline and under a strict CSP.
_SCRIPT = (_STATIC / "docs.js").read_text()


_STYLE = (_STATIC / "docs.css").read_text()


DOCS_HTML = (
    "<!doctype html><html lang=en><head><meta charset=utf-8>"
    "<title>Baikonur portal API</title>"
    f"<style>{_STYLE}</style></head><body><div id=root></div>"
    f"<script>{_SCRIPT}</script></body></html>"
).encode()


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


DOCS_CSP = (
    f"default-src 'none'; script-src {_csp_hash(_SCRIPT)}; style-src {_csp_hash(_STYLE)};"
    " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
