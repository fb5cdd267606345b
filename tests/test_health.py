"""Every service process answers health, readiness and metrics, and errors as problem+json
(the contract's "Every process answers GET /healthz, GET /readyz ... GET /metrics")."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from portal_testing.service import client_for

SERVICES = [
    "identity_app",
    "directory_app",
    "catalog_app",
    "requests_app",
    "notifications_app",
]


@pytest.fixture(params=SERVICES)
def service_app(request: pytest.FixtureRequest) -> FastAPI:
    # A sync fixture: the async app fixtures are set up outside the running loop.
    app: FastAPI = request.getfixturevalue(request.param)
    return app


async def test_health_readiness_metrics_and_problems(service_app: FastAPI) -> None:
    app = service_app
    async with client_for(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert "portal_http_requests_total" in metrics.text
        missing = await client.get("/no/such/thing")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert {"type", "title", "status", "detail"} <= missing.json().keys()
