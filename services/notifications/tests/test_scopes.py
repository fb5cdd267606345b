"""Every notifications operation that takes a token needs its scope, for every kind of token
(portal_shared.scopes), walked generically over the routes and the OpenAPI document."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from notifications.api import router
from notifications.webhooks.api import router as webhooks_router
from portal_testing.scopes import issued_by, under_scoped_answers, unscoped_routes
from portal_testing.service import TestIssuer


def test_every_route_that_takes_a_token_requires_a_scope() -> None:
    assert unscoped_routes([router, webhooks_router]) == []


async def test_an_under_scoped_token_is_refused_on_every_protected_operation(
    app: FastAPI, client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    assert await under_scoped_answers(client, app.openapi(), issued_by(issuer)) == []
