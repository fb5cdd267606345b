"""The requests process answers health, readiness and metrics, and errors as problem+json."""

from __future__ import annotations

import httpx


async def test_ready_with_database_and_broker(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "portal_http_requests_total" in metrics.text


async def test_unknown_path_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()


async def test_openapi_and_asyncapi_describe_the_requests_api(client: httpx.AsyncClient) -> None:
    openapi = (await client.get("/openapi.json")).json()
    assert {"/api/v1/requests", "/api/v1/requests/{request_id}/actions"} <= openapi["paths"].keys()
    asyncapi = (await client.get("/asyncapi.json")).json()
    names = {m["name"] for m in asyncapi["components"]["messages"].values()}
    assert {f"requests.request.{n}.v1" for n in ("submitted", "overdue", "rejected")} <= names
    assert len(names) == 9
