"""One place to look: merged API documents, the docs page, readiness and metrics."""

from __future__ import annotations

import re

from portal_testing.processes import Connect, Process


async def test_openapi_merges_the_services_documents(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        response = await client.get("/openapi.json", params={"refresh": "true"})
    assert response.status_code == 200
    document = response.json()
    assert document["servers"] == [{"url": "http://localhost:8000"}]
    paths = document["paths"]
    # Each echo describes /api/v1/<its segment>; all are routed, so all show.
    described = (
        "/api/v1/me",
        "/api/v1/agencies",
        "/api/v1/services",
        "/api/v1/requests",
        "/api/v1/notifications",
    )
    for path in described:
        assert path in paths
    # A path no route leads to is not part of the public API.
    assert "/internal/only" not in paths
    schemas = document["components"]["schemas"]
    # Identical components are kept once; different ones under one name are namespaced.
    assert "Problem" in schemas
    things = sorted(name for name in schemas if name.endswith("Thing"))
    assert len(things) == len(described)
    refs = {
        paths[p]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        for p in described
    }
    assert refs == {f"#/components/schemas/{name}" for name in things}
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))


async def test_asyncapi_merges_every_services_channels(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        document = (await client.get("/asyncapi.json")).json()
    assert document["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {
        "me.thing",
        "agencies.thing",
        "services.thing",
        "requests.thing",
        "notifications.thing",
    }


async def test_docs_page_works_offline(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "/openapi.json" in page
    # Nothing is loaded from another site: no CDN is reachable here.
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)
    assert "connect-src 'self'" in response.headers["content-security-policy"]


async def test_readyz_names_the_service_that_is_down(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    checks = response.json()["checks"]
    assert checks["down"].startswith("unavailable")
    assert checks["catalog"] == "ok"
    assert "down" in response.json()["detail"]


async def test_metrics_count_and_time_each_route(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        await client.get("/api/v1/services")
        await client.get("/api/v1/requests")  # 401
        text = (await client.get("/metrics")).text
    assert re.search(
        r'portal_http_requests_total\{method="GET",route="/api/v1/services",'
        r'service="gateway",status="200"\} [1-9]',
        text,
    )
    assert re.search(r'route="/api/v1/requests",service="gateway",status="401"\} [1-9]', text)
    assert 'portal_http_request_duration_seconds_bucket{le="0.005",method="GET",' in text


async def test_healthz_and_local_endpoints_answer_get_only(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        refused = await client.post("/healthz")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"
