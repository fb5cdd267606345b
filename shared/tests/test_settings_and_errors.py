"""Production refuses demo secrets; services trust forwarded headers from their proxies only;
every error is problem+json without internals."""

from __future__ import annotations

from typing import ClassVar

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError

from portal_shared.errors import NotFound, install_error_handlers
from portal_shared.settings import ServiceSettings
from portal_testing.service import client_for


class DemoSettings(ServiceSettings):
    demo_secrets: ClassVar[dict[str, str]] = {"signing_secret": "demo-secret"}
    signing_secret: str = "demo-secret"


def test_production_refuses_a_demo_secret() -> None:
    with pytest.raises(ValidationError, match="SIGNING_SECRET"):
        DemoSettings(PORTAL_ENV="production")


def test_production_accepts_a_real_secret_and_demo_keeps_the_default() -> None:
    assert DemoSettings(PORTAL_ENV="production", signing_secret="s3cr3t").signing_secret == "s3cr3t"
    assert DemoSettings().signing_secret == "demo-secret"


def test_services_trust_forwarded_headers_from_loopback_unless_told_otherwise() -> None:
    assert ServiceSettings().trusted_proxies == ("127.0.0.1/32", "::1/128")
    # As uvicorn matches them: host addresses and host bits become networks.
    assert ServiceSettings(trusted_proxies=("10.244.0.7/16", "10.0.0.9")).trusted_proxies == (
        "10.244.0.0/16",
        "10.0.0.9/32",
    )
    with pytest.raises(ValidationError, match="trusted_proxies"):
        ServiceSettings(trusted_proxies=("gateway",))


class Body(BaseModel):
    count: int


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/thing")
    async def thing() -> None:
        raise NotFound("No thing with this id")

    @app.post("/count")
    async def count(body: Body) -> int:
        return body.count

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    return app


async def test_typed_error_is_rendered_as_problem() -> None:
    async with client_for(_app()) as client:
        response = await client.get("/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "urn:baikonur-portal:problem:not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No thing with this id",
        "instance": "/thing",
        "code": "not-found",
    }
    assert response.headers["content-language"] == "en"


async def test_validation_error_lists_each_violation() -> None:
    async with client_for(_app()) as client:
        response = await client.post("/count", json={"count": "many"})
    body = response.json()
    assert response.status_code == 422
    assert body["errors"][0]["location"] == "body.count"
    assert "body.count" in body["detail"]


async def test_unexpected_error_hides_internals() -> None:
    async with client_for(_app()) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "passwd" not in response.text
    assert "Traceback" not in response.text
    # The server closes the connection after an unhandled error: a keep-alive client
    # (the gateway) must hear it in the answer, not find out on its next request.
    assert response.headers["connection"] == "close"


async def test_a_handled_error_keeps_the_connection() -> None:
    async with client_for(_app()) as client:
        response = await client.get("/thing")
    assert "connection" not in response.headers
