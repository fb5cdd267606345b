"""Test support: walk a service's operations and check that each needs its scopes.

Two checks every service's tests run on their own app, so a route added later is covered
without touching them:

- `unscoped_routes`: every route whose dependencies look at a token also checks a scope
  (portal_shared.scopes), so none relies on roles alone;
- `under_scoped_answers`: each operation whose OpenAPI `security` needs scopes, called
  with a token holding every role and every other scope, is refused with 403
  `insufficient-scope` and RFC 6750's challenge naming the scopes it needs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx
from fastapi import APIRouter
from fastapi.routing import APIRoute

from portal_shared import auth
from portal_shared.scopes import SCOPES, dependency_calls, route_scopes
from portal_testing.service import TestIssuer

INSUFFICIENT_SCOPE = "urn:baikonur-portal:problem:insufficient-scope"
EVERY_ROLE = ["resident", "officer", "admin"]
# Authorization headers for a token holding exactly these scopes (space-separated).
HeadersFor = Callable[[str], Awaitable[dict[str, str]]]


def issued_by(issuer: TestIssuer) -> HeadersFor:
    """Tokens of a person holding every role (and an agency), with the given scopes."""

    async def headers_for(scope: str) -> dict[str, str]:
        return issuer.headers(roles=EVERY_ROLE, agency_id=uuid.uuid4(), scope=scope)

    return headers_for


def unscoped_routes(routers: Iterable[APIRouter]) -> list[str]:
    """The routes that take a token but require no scope."""
    found = []
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            calls = set(dependency_calls(route.dependant))
            takes_token = auth._principal in calls or auth._optional_principal in calls
            if takes_token and route_scopes(route) is None:
                found.append(f"{sorted(route.methods or ())} {route.path}")
    return found


def scoped_operations(document: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(method, path, scopes) of every operation that cannot be called without a token
    holding these scopes."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            security = operation.get("security") or []
            if not security or {} in security:
                continue
            scopes = [s for requirement in security for s in requirement.get("oauth2", [])]
            found.append((method, path, scopes))
    return found


async def under_scoped_answers(
    client: httpx.AsyncClient, document: dict[str, Any], headers_for: HeadersFor
) -> list[str]:
    """What is wrong in the answers to under-scoped tokens; empty when all is right.

    The scope is checked before anything else the operation reads, so a placeholder in
    each path parameter and no body are enough: the refusal comes first.
    """
    wrong = []
    operations = scoped_operations(document)
    if not operations:
        return ["the document declares no operation that needs a scope"]
    for method, path, needed in operations:
        headers = await headers_for(" ".join(s for s in SCOPES if s not in needed))
        url = re.sub(r"\{\w+\}", str(uuid.uuid4()), path)
        response = await client.request(method, url, headers=headers)
        challenge = f'Bearer error="insufficient_scope", scope="{" ".join(needed)}"'
        problem = response.headers.get("content-type") == "application/problem+json"
        got = (response.status_code, response.json().get("type") if problem else None)
        if got != (403, INSUFFICIENT_SCOPE):
            wrong.append(f"{method.upper()} {path} answers {got} without {needed}")
        elif response.headers.get("www-authenticate") != challenge:
            wrong.append(f"{method.upper()} {path} challenges {response.headers}")
    return wrong
