"""Who the gateway believes: X-Forwarded-For only from its own proxies, and operators'
endpoints (metrics, detailed readiness) only for internal addresses."""

from __future__ import annotations

import httpx

from portal_testing.processes import Connect, Process

PROBLEM = "application/problem+json"
REGISTRATIONS = 5  # LIMIT_REGISTRATION_PER_ADDRESS of the edge gateway (conftest)
INGRESS = "127.0.0.200"  # in the edge gateway's TRUSTED_PROXIES (conftest), as is .201


def _sent(response: httpx.Response) -> dict[str, str]:
    echo = response.json()
    return {str(name): str(value) for name, value in echo["headers"]}


async def test_forwarded_for_from_an_untrusted_caller_is_ignored(
    edge: Process, connect: Connect
) -> None:
    async with connect(edge, "127.0.0.51") as client:
        response = await client.get(
            "/api/v1/services",
            headers={"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https"},
        )
        metrics = await client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
    sent = _sent(response)
    assert sent["x-forwarded-for"] == "127.0.0.51"
    assert sent["x-forwarded-proto"] == "http"
    # Claiming an internal address does not open the operators' endpoints.
    assert metrics.status_code == 404


async def test_the_client_behind_a_chain_of_trusted_proxies_is_the_first_untrusted_hop(
    edge: Process, connect: Connect
) -> None:
    # The caller wrote the leftmost entry; the outer proxy (.201) added the caller's address,
    # and the inner one (.200, the peer) added the outer one's.
    chain = "10.9.9.9, 198.51.100.7, 127.0.0.201"
    async with connect(edge, INGRESS) as client:
        response = await client.get(
            "/api/v1/services",
            headers={"X-Forwarded-For": chain, "X-Forwarded-Proto": "https"},
        )
    sent = _sent(response)
    assert sent["x-forwarded-for"] == "198.51.100.7"
    assert sent["x-forwarded-proto"] == "https"


async def test_rate_limits_count_the_client_behind_the_proxy(
    edge: Process, connect: Connect
) -> None:
    async with connect(edge, INGRESS) as ingress:
        first = [
            (await ingress.post("/api/v1/residents", headers={"X-Forwarded-For": "198.51.100.8"}))
            for _ in range(REGISTRATIONS + 1)
        ]
        other = await ingress.post("/api/v1/residents", headers={"X-Forwarded-For": "198.51.100.9"})
    assert [r.status_code for r in first] == [200] * REGISTRATIONS + [429]
    # Another client behind the same proxy has its own budget.
    assert other.status_code == 200
    # A caller of its own cannot buy a new budget with a new X-Forwarded-For each time.
    async with connect(edge, "127.0.0.52") as direct:
        statuses = [
            (
                await direct.post("/api/v1/residents", headers={"X-Forwarded-For": f"192.0.2.{n}"})
            ).status_code
            for n in range(REGISTRATIONS + 1)
        ]
    assert statuses == [200] * REGISTRATIONS + [429]


async def test_metrics_are_for_internal_addresses_only(edge: Process, connect: Connect) -> None:
    async with connect(edge, "127.0.0.53") as outsider:
        refused = await outsider.get("/metrics")
    async with connect(edge, INGRESS) as ingress:
        # The proxy's own network is internal, but the public client it forwards is not.
        forwarded = await ingress.get("/metrics", headers={"X-Forwarded-For": "203.0.113.5"})
        own = await ingress.get("/metrics")
    async with connect(edge) as operator:
        allowed = await operator.get("/metrics")
    for response in (refused, forwarded):
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        assert "portal_http_requests_total" not in response.text
    for response in (own, allowed):
        assert response.status_code == 200
        assert "portal_http_requests_total" in response.text


async def test_the_public_gets_a_plain_readiness_answer(edge: Process, connect: Connect) -> None:
    # One upstream of the edge gateway is down: it is not ready.
    async with connect(edge, "127.0.0.54") as outsider:
        public = await outsider.get("/readyz")
    async with connect(edge) as operator:
        detailed = await operator.get("/readyz")
    assert public.status_code == detailed.status_code == 503
    assert public.headers["content-type"] == PROBLEM
    assert "checks" not in public.json()
    assert "down" not in public.text
    assert "catalog" not in public.text
    assert detailed.json()["checks"]["down"].startswith("unavailable")
