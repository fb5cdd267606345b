"""The catalog process answers health, readiness and metrics, and errors as problem+json."""

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


async def test_openapi_documents_the_one_language_shape(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    read = schema["paths"]["/api/v1/services/{service_id}"]["get"]
    assert read["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"] == [
        {"$ref": "#/components/schemas/StateServiceRead"},
        {"$ref": "#/components/schemas/StateServiceFlat"},
    ]
    assert schema["components"]["schemas"]["StateServiceFlat"]["properties"]["name"] == {
        "title": "Name",
        "type": "string",
    }
    refs = str(schema)
    for name in ("Fee", "RefusalGroundFlat", "RequiredDocumentFlat", "StateServiceFlatPage"):
        assert f"#/components/schemas/{name}'" in refs
        assert name in schema["components"]["schemas"]


async def test_asyncapi_lists_the_catalog_events_with_their_form_schema(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/asyncapi.json")).json()
    channel = document["channels"]["catalog_service"]
    assert channel["address"] == "catalog.service"
    assert {m["name"] for m in document["components"]["messages"].values()} == {
        "catalog.service.published.v1",
        "catalog.service.updated.v1",
        "catalog.service.withdrawn.v1",
    }
    payload = document["components"]["schemas"]["StateServiceEvent"]
    assert {"form_schema", "refusal_grounds", "version", "status"} <= payload["properties"].keys()
