"""Rate limits, CORS and the body size limit, as the edge gateway is configured in conftest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from portal_testing.processes import Connect, Process
from portal_testing.service import TestIssuer

PROBLEM = "application/problem+json"
ALLOWED_ORIGIN = "https://portal.example.kz"  # CORS_ORIGINS of the edge gateway
REGISTRATIONS = 5  # LIMIT_REGISTRATION_PER_ADDRESS of the edge gateways (conftest)
SUBMISSIONS = 3  # LIMIT_SUBMISSIONS_PER_SUBJECT
MAX_BODY = 64 * 1024


async def test_sign_in_traffic_is_not_limited_like_registration(
    edge: Process, connect: Connect
) -> None:
    # Guessing passwords is the identity service's to stop (per account, per client id):
    # the edge lets a whole office's sign-ins through one address.
    async with connect(edge, "127.0.0.31") as client:
        token_calls = [await client.post("/auth/token") for _ in range(3 * REGISTRATIONS)]
        logins = [await client.post("/auth/authorize") for _ in range(3 * REGISTRATIONS)]
    assert {r.status_code for r in token_calls + logins} == {200}


async def test_registration_is_limited_per_address(edge: Process, connect: Connect) -> None:
    async with connect(edge, "127.0.0.33") as client:
        statuses = [
            (await client.post("/api/v1/residents", json={})).status_code
            for _ in range(REGISTRATIONS)
        ]
        refused = await client.post("/api/v1/residents", json={})
        # Reads are not registrations: the same address still reads freely.
        read = await client.get("/api/v1/services")
    assert statuses == [200] * REGISTRATIONS
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["limit"] == "per-address-registration"
    assert "retry after" in refused.json()["detail"]
    assert read.status_code == 200
    # Another address has its own budget.
    async with connect(edge, "127.0.0.32") as other:
        assert (await other.post("/api/v1/residents", json={})).status_code == 200


async def test_submission_limit_per_subject_holds_across_replicas_and_addresses(
    edge: Process, edge_replica: Process, connect: Connect, issuer: TestIssuer
) -> None:
    headers = issuer.headers(roles=["resident"])
    replicas = [edge, edge_replica]
    statuses = []
    for n in range(SUBMISSIONS):
        # Each submission through another replica, from another address.
        async with connect(replicas[n % 2], f"127.0.0.{34 + n % 2}") as client:
            response = await client.post("/api/v1/requests", json={}, headers=headers)
            statuses.append(response.status_code)
    refused = []
    for replica in replicas:
        async with connect(replica, "127.0.0.37") as client:
            refused.append(await client.post("/api/v1/requests", json={}, headers=headers))
        async with connect(replica, "127.0.0.37") as client:
            someone_else = await client.post(
                "/api/v1/requests", json={}, headers=issuer.headers(roles=["resident"])
            )
        assert someone_else.status_code == 200
    assert statuses == [200] * SUBMISSIONS
    for response in refused:
        assert response.status_code == 429
        assert response.headers["content-type"] == PROBLEM
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["limit"] == "per-subject-submissions"
        assert "account" in response.json()["detail"]


async def test_preflight_from_an_allowed_origin(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        response = await client.options(
            "/api/v1/requests",
            headers={
                "Origin": ALLOWED_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
            },
        )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "idempotency-key" in response.headers["access-control-allow-headers"]
    assert response.headers["vary"] == "origin"


async def test_disallowed_origin_is_refused(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        preflight = await client.options(
            "/api/v1/requests",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        simple = await client.get("/api/v1/services", headers={"Origin": "https://evil.example"})
    for response in (preflight, simple):
        assert response.status_code == 403
        assert response.headers["content-type"] == PROBLEM
        assert "access-control-allow-origin" not in response.headers
        assert "https://evil.example" in response.json()["detail"]


async def test_allowed_origin_can_read_the_answer(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        response = await client.get("/api/v1/services", headers={"Origin": ALLOWED_ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "x-request-id" in response.headers["access-control-expose-headers"]


async def test_same_origin_form_post_is_not_a_cors_request(edge: Process, connect: Connect) -> None:
    # The login form posts back to the gateway's own origin.
    async with connect(edge, "127.0.0.36") as client:
        response = await client.post(
            "/auth/authorize", data={"username": "a"}, headers={"Origin": edge.url}
        )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_oversized_body_with_content_length_is_413(edge: Process) -> None:
    # Raw socket: the gateway must answer from the headers alone, without reading the body.
    host, port = "127.0.0.1", edge.port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        b"POST /api/v1/residents HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000000\r\n\r\n{"
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"application/problem+json" in head


async def _pieces(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // 4096):
        yield b"x" * 4096


async def test_oversized_chunked_upload_to_a_public_route_is_413(
    edge: Process, connect: Connect
) -> None:
    async with connect(edge, "127.0.0.38") as client:
        too_big = await client.post("/auth/token", content=_pieces(MAX_BODY * 2))
        fits = await client.post("/auth/token", content=_pieces(MAX_BODY))
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == PROBLEM
    assert str(MAX_BODY) in too_big.json()["detail"]
    assert fits.status_code == 200
    assert fits.json()["body_bytes"] == MAX_BODY
