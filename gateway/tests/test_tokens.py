"""Tokens at the edge: a bad token never reaches a service; public routes need none; a
revoked token or a disabled account's token stops at the gateway within seconds."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from portal_shared.events import CloudEvent, ensure_topics, make_producer, with_dead_letters
from portal_shared.revocation import FEED_TOPICS, TOKEN_REVOKED, USER_DISABLED
from portal_testing.processes import Connect, Process
from portal_testing.service import TestIssuer

PROBLEM = "application/problem+json"


def _forged(issuer: TestIssuer) -> str:
    # Right key id and claims, signed by a key the issuer never published.
    impostor = TestIssuer()
    impostor.kid = issuer.kid
    return impostor.token()


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (_forged, "not valid"),
        (lambda i: i.token(ttl=-60), "expired"),
        (lambda i: i.token(aud="another-api"), "not meant for this API"),
        (lambda i: i.token(iss="https://evil.example/auth"), "another issuer"),
        (lambda i: TestIssuer().token(), "unknown key"),
        (
            lambda i: jwt.encode(
                {"sub": "x", "aud": "portal-api", "exp": int(time.time()) + 60},
                key="",
                algorithm="none",
                headers={"typ": "at+jwt", "kid": i.kid},
            ),
            "algorithm is not accepted",
        ),
        (lambda i: "not-a-jwt", "malformed"),
    ],
    ids=["forged", "expired", "wrong-audience", "wrong-issuer", "unknown-key", "alg-none", "junk"],
)
async def test_bad_token_is_refused_at_the_gateway(
    edge: Process, connect: Connect, issuer: TestIssuer, make: object, why: str
) -> None:
    assert callable(make)
    token = make(issuer)
    async with connect(edge) as client:
        response = await client.get(
            "/api/v1/requests", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert why in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert "x-upstream" not in response.headers  # the echo never saw it


async def test_protected_route_without_token_is_401(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        for method, path in [
            ("GET", "/api/v1/requests"),
            ("GET", "/api/v1/me"),
            ("POST", "/api/v1/users"),
            ("POST", "/api/v1/clients"),
            ("POST", "/api/v1/agencies"),
            ("PATCH", "/api/v1/services/1"),
        ]:
            response = await client.request(method, path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == "Bearer"
            assert "x-upstream" not in response.headers


async def test_valid_token_reaches_the_service_with_its_header(
    edge: Process, connect: Connect, issuer: TestIssuer
) -> None:
    token = issuer.token(roles=["resident"])
    async with connect(edge) as client:
        response = await client.get(
            "/api/v1/requests", headers={"Authorization": f"Bearer {token}"}
        )
        again = await client.get("/api/v1/requests", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["service"] == "requests"
    sent = dict(response.json()["headers"])
    assert sent["authorization"] == f"Bearer {token}"  # services check it again themselves
    assert again.status_code == 200


async def test_public_routes_need_no_token(edge: Process, connect: Connect) -> None:
    async with connect(edge, "127.0.0.21") as client:
        for method, path in [
            ("GET", "/api/v1/services"),
            ("GET", "/api/v1/services/123"),
            ("HEAD", "/api/v1/agencies"),
            ("GET", "/api/v1/agencies/123/children"),
            ("POST", "/api/v1/residents"),
            ("GET", "/auth/.well-known/openid-configuration"),
            ("GET", "/auth/authorize"),
            ("POST", "/auth/token"),
        ]:
            response = await client.request(method, path)
            assert response.status_code == 200, (method, path, response.text)
            assert response.headers["x-upstream"]


async def test_client_basic_auth_passes_to_the_token_endpoint(
    edge: Process, connect: Connect
) -> None:
    async with connect(edge, "127.0.0.22") as client:
        response = await client.post("/auth/token", auth=("agency-demo", "agency-demo-secret"))
    assert response.status_code == 200
    assert dict(response.json()["headers"])["authorization"].startswith("Basic ")


async def test_a_bad_token_on_a_public_route_is_refused_too(
    edge: Process, connect: Connect, issuer: TestIssuer
) -> None:
    async with connect(edge) as client:
        response = await client.get(
            "/api/v1/services", headers={"Authorization": f"Bearer {issuer.token(ttl=-60)}"}
        )
    assert response.status_code == 401


async def _publish(kafka_bootstrap: str, topic: str, key: str, type: str, data: Any) -> None:
    """An event as the identity service's outbox relay publishes it."""
    await ensure_topics(kafka_bootstrap, with_dead_letters(FEED_TOPICS), partitions=6)
    event = CloudEvent(type=type, source="/identity", subject=key, data=data)
    producer = make_producer(kafka_bootstrap, idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value=event.value(), key=key.encode(), headers=event.headers()
        )
    finally:
        await producer.stop()


async def _refused_within_5_s(client: httpx.AsyncClient, token: str) -> httpx.Response:
    deadline = time.monotonic() + 5.0
    while True:
        response = await client.get(
            "/api/v1/requests", headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code != 200:
            return response
        assert time.monotonic() < deadline, "still accepted 5 s after the revocation"
        await asyncio.sleep(0.05)


async def test_a_revoked_token_is_refused_at_the_gateway_within_seconds(
    edge: Process, connect: Connect, issuer: TestIssuer, kafka_bootstrap: str
) -> None:
    jti = uuid.uuid4().hex
    token = issuer.token(roles=["resident"], jti=jti)
    other = issuer.token(roles=["resident"])
    async with connect(edge, "127.0.0.23") as client:
        # Verified, and from now on in the gateway's cache.
        accepted = await client.get(
            "/api/v1/requests", headers={"Authorization": f"Bearer {token}"}
        )
        assert accepted.status_code == 200
        sub = str(uuid.uuid4())
        data = {
            "sub": sub,
            "client_id": "portal-web",
            "reason": "revoked",
            "tokens": [{"jti": jti, "exp": int(time.time()) + 300}],
        }
        await _publish(kafka_bootstrap, "identity.token", sub, TOKEN_REVOKED, data)
        refused = await _refused_within_5_s(client, token)
        still = await client.get("/api/v1/requests", headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == PROBLEM
    assert "revoked" in refused.json()["detail"]
    assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert "x-upstream" not in refused.headers
    assert still.status_code == 200  # only that token


async def test_a_disabled_accounts_token_is_refused_at_the_gateway_within_seconds(
    edge: Process, connect: Connect, issuer: TestIssuer, kafka_bootstrap: str
) -> None:
    account = uuid.uuid4()
    token = issuer.token(sub=account, roles=["resident"])
    async with connect(edge, "127.0.0.24") as client:
        accepted = await client.get(
            "/api/v1/requests", headers={"Authorization": f"Bearer {token}"}
        )
        assert accepted.status_code == 200
        data = {
            "id": str(account),
            "roles": ["resident"],
            "agency_id": None,
            "status": "disabled",
            "version": 2,
        }
        await _publish(kafka_bootstrap, "identity.user", str(account), USER_DISABLED, data)
        refused = await _refused_within_5_s(client, token)
    assert refused.status_code == 401
    assert "disabled" in refused.json()["detail"]
