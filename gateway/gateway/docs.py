"""The portal's one OpenAPI document and one AsyncAPI document, merged from the services'.

Each service serves its own `/openapi.json` and `/asyncapi.json`; the gateway
fetches them, keeps the paths that its routes send to that service (so the
document shows exactly what is reachable from outside), and merges the
components. Two services may use one component name for different things: the
later one is then renamed `<Service><Name>` (its `title` too, as client generators
name types by it) and its `$ref`s rewritten. Each operation also documents what
the gateway itself may answer (413, 429, 502, 503, 504), and the security schemes
point at the public issuer. The result is cached for `docs_ttl` seconds (a few
seconds only while a service is missing from it), and `?refresh=true` rebuilds it
on demand.
"""

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx
import structlog
import swagger_ui_bundle

from gateway.settings import GatewaySettings
from portal_shared.errors import PROBLEM_JSON
from portal_shared.openapi import PROBLEM_REF, security_schemes, unique_titles

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


def _prefixed(service: str, name: str, *, upper: bool = False) -> str:
    """`catalog`, `Fee` -> `CatalogFee`; `catalog`, `listAudit` -> `catalogListAudit`."""
    head = service[:1].upper() + service[1:] if upper else service
    return head + name[:1].upper() + name[1:]


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
                renamed = _prefixed(service, name, upper=True)
                renames[f"{prefix}/{section}/{name}"] = f"{prefix}/{section}/{renamed}"
    for section, items in incoming.items():
        if not isinstance(items, dict):
            continue
        target = merged[section]
        for name, value in items.items():
            ref = f"{prefix}/{section}/{name}"
            new_value = _rewrite_refs(value, renames)
            if ref in renames:
                name = renames[ref].rsplit("/", 1)[1]
                if isinstance(new_value, dict) and "title" in new_value:
                    new_value["title"] = name
            target[name] = new_value
    return renames


def _routed(path: str, prefixes: list[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def _problem(description: str, **headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "integer"}}
            for name, text in headers.items()
        }
    return response


# What the gateway itself answers on any route, before or instead of the service.
GATEWAY_RESPONSES: dict[str, dict[str, Any]] = {
    "413": _problem("The body is larger than the gateway takes for this route"),
    "429": _problem(
        "Too many requests from this caller; try again later",
        **{"Retry-After": "Seconds to wait before trying again"},
    ),
    "502": _problem("The service behind the gateway gave no usable answer"),
    "503": _problem(
        "The service is unavailable or overloaded",
        **{"Retry-After": "Seconds to wait before trying again"},
    ),
    "504": _problem("The service did not answer in time"),
}


def operation_id_collisions(
    documents: dict[str, dict[str, Any]], prefixes: dict[str, list[str]]
) -> list[str]:
    """operationIds that more than one routed operation uses, across the services."""
    owners: dict[str, list[str]] = {}
    for service, document in documents.items():
        for path, item in (document.get("paths") or {}).items():
            if not _routed(path, prefixes.get(service, [])):
                continue
            for method, operation in item.items():
                if isinstance(operation, dict) and "operationId" in operation:
                    owners.setdefault(operation["operationId"], []).append(
                        f"{service} {method.upper()} {path}"
                    )
    return sorted(f"{op}: {', '.join(where)}" for op, where in owners.items() if len(where) > 1)


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
    for collision in operation_id_collisions(documents, prefixes):
        # Generated clients would get two methods of one name; tests/api fails on it too.
        log.error("operation_id_collision", collision=collision)
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
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                if "operationId" in operation:
                    if operation["operationId"] in seen_operations:
                        operation["operationId"] = _prefixed(service, operation["operationId"])
                    seen_operations.add(operation["operationId"])
                for status, response in GATEWAY_RESPONSES.items():
                    own = operation["responses"].setdefault(status, copy.deepcopy(response))
                    if PROBLEM_JSON not in own.setdefault("content", {}):
                        # The service answers this status its own way (identity's sign-in
                        # form); the gateway's answer is a problem all the same.
                        own["content"][PROBLEM_JSON] = copy.deepcopy(
                            response["content"][PROBLEM_JSON]
                        )
                        own["description"] += f"; from the gateway: {response['description']}"
                operation["responses"] = dict(sorted(operation["responses"].items()))
            merged["paths"][path] = item
        for tag in document.get("tags") or []:
            if isinstance(tag, dict) and tag.get("name") not in seen_tags:
                seen_tags.add(str(tag.get("name")))
                merged["tags"].append(tag)
    merged["paths"] = dict(sorted(merged["paths"].items()))
    # The services' documents name their own issuer; outside, it is the gateway's /auth.
    components["securitySchemes"] = security_schemes(public_url.rstrip("/") + "/auth")
    unique_titles(components.get("schemas", {}))
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
        "servers": {},
        "channels": {},
        "operations": {},
        "components": {},
    }
    for service, document in documents.items():
        # Every service names the one broker, so the servers merge as one.
        merged["servers"].update(document.get("servers") or {})
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
SWAGGER_UI = swagger_ui_bundle.swagger_ui_path


@dataclass(frozen=True)
class DocsAsset:
    content_type: str
    body: bytes


# Swagger UI from the pinned swagger-ui-bundle package and the portal's own start-up script:
# nothing is fetched from a CDN, so the page works offline and under a strict CSP. Swagger
# UI's redirect page completes a PKCE sign-in (it is a registered redirect URI of the demo
# client) and loads its script from next to itself.
DOCS_ASSETS: dict[str, DocsAsset] = {
    "/docs/swagger-ui-bundle.js": DocsAsset(
        "text/javascript; charset=utf-8", (SWAGGER_UI / "swagger-ui-bundle.js").read_bytes()
    ),
    "/docs/swagger-ui.css": DocsAsset(
        "text/css; charset=utf-8", (SWAGGER_UI / "swagger-ui.css").read_bytes()
    ),
    "/docs/favicon-32x32.png": DocsAsset(
        "image/png", (SWAGGER_UI / "favicon-32x32.png").read_bytes()
    ),
    "/docs/oauth2-redirect": DocsAsset(
        "text/html; charset=utf-8", (SWAGGER_UI / "oauth2-redirect.html").read_bytes()
    ),
    "/docs/oauth2-redirect.js": DocsAsset(
        "text/javascript; charset=utf-8", (SWAGGER_UI / "oauth2-redirect.js").read_bytes()
    ),
    "/docs/init.js": DocsAsset(
        "text/javascript; charset=utf-8", (_STATIC / "docs.js").read_bytes()
    ),
    "/docs/portal.css": DocsAsset("text/css; charset=utf-8", (_STATIC / "docs.css").read_bytes()),
}

DOCS_HTML = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8>"
    b"<meta name=viewport content='width=device-width, initial-scale=1'>"
    b"<title>Baikonur portal API</title>"
    b"<link rel=icon type=image/png href=/docs/favicon-32x32.png>"
    b"<link rel=stylesheet href=/docs/swagger-ui.css>"
    b"<link rel=stylesheet href=/docs/portal.css>"
    b"<link rel=alternate type=application/vnd.oai.openapi+json href=/openapi.json></head>"
    b"<body><noscript>This reference needs JavaScript; the API's document itself is"
    b" <a href=/openapi.json>/openapi.json</a>.</noscript><div id=swagger-ui></div>"
    b"<script src=/docs/swagger-ui-bundle.js></script>"
    b"<script src=/docs/init.js></script></body></html>"
)

# Swagger UI sets style attributes and draws icons from data: URIs; "try it" and the token
# exchange call this origin only.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; font-src 'self' data:; connect-src 'self';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
