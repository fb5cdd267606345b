"""The limits' policy and its store, as two gateway replicas would use it: two `EdgeLimits`
on the test Redis (a real Valkey server), and on one that has gone away."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from gateway.limits import EdgeLimits
from gateway.settings import GatewaySettings
from portal_embedded.broker import free_port
from portal_embedded.redis import EmbeddedRedis
from portal_shared.errors import AppError, TooManyRequests

Replicas = Callable[..., list[EdgeLimits]]


@pytest.fixture
async def replicas() -> AsyncIterator[Replicas]:
    """`replicas(redis_url, n=2, **limits)`: n gateways' limits on one store, closed after."""
    made: list[EdgeLimits] = []

    def make(redis_url: str, n: int = 2, **limits: Any) -> list[EdgeLimits]:
        settings = GatewaySettings(PORTAL_ENV="test", redis_url=redis_url, **limits)
        made.extend(EdgeLimits(settings) for _ in range(n))
        return made[-n:]

    yield make
    for limits in made:
        await limits.counters.aclose()


async def allowed(call: Awaitable[None]) -> bool:
    """True if the limit let the request through, False if it answered 429."""
    try:
        await call
    except TooManyRequests:
        return False
    return True


async def test_the_address_ceiling_is_one_budget_for_all_replicas(
    redis_url: str, replicas: Replicas
) -> None:
    first, second = replicas(redis_url, limit_per_address="100/minute")
    address = f"198.51.100.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    results = [
        await allowed((first if n % 2 else second).address("GET", "/api/v1/services", address))
        for n in range(110)
    ]
    assert results == [True] * 100 + [False] * 10
    with pytest.raises(AppError) as refused:
        await first.address("GET", "/api/v1/services", address)
    assert refused.value.extra == {"limit": "per-address"}
    assert int(refused.value.headers["Retry-After"]) >= 1


async def test_a_large_ceiling_is_counted_in_batches_within_a_bound(
    redis_url: str, replicas: Replicas
) -> None:
    # 2,000 a minute: each replica reports an address's requests 20 at a time.
    first, second = replicas(redis_url, limit_per_address="2000/minute")
    address = f"203.0.113.7-{uuid.uuid4().hex[:6]}"
    results = [
        await allowed((first if n % 2 else second).address("GET", "/", address))
        for n in range(2200)
    ]
    passed = sum(results)
    # At most 19 a replica past the shared count; refusals start and then hold.
    assert 2000 - 2 * 20 <= passed <= 2000 + 2 * 19
    assert not any(results[passed + 2 * 20 :])


async def test_writes_are_counted_per_subject_and_reads_are_not(
    redis_url: str, replicas: Replicas
) -> None:
    first, second = replicas(redis_url, limit_writes_per_subject="5/minute")
    subject = f"resident-{uuid.uuid4()}"
    for _ in range(20):
        await first.subject("GET", "/api/v1/requests", subject)
    writes = [
        await allowed((first if n % 2 else second).subject("PATCH", "/api/v1/me", subject))
        for n in range(6)
    ]
    assert writes == [True] * 5 + [False]
    with pytest.raises(AppError) as refused:
        await second.subject("POST", "/api/v1/requests", subject)
    assert refused.value.extra == {"limit": "per-subject-writes"}
    # Someone else writes as usual.
    await first.subject("PATCH", "/api/v1/me", f"resident-{uuid.uuid4()}")


@pytest.fixture
def gone_redis() -> str:
    """The URL of a Redis that was running a moment ago and is now stopped."""
    server = EmbeddedRedis(free_port())
    server.start()
    server.stop()
    return server.url


def _store_errors(limit: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "portal_gateway_limit_store_errors_total", {"limit": limit, "outcome": outcome}
    )
    return value or 0.0


async def test_with_redis_down_the_ceiling_lets_through_and_registration_waits(
    gone_redis: str, replicas: Replicas
) -> None:
    # A ceiling small enough that every request asks the store (no local batches).
    (limits,) = replicas(gone_redis, n=1, limit_per_address="100/minute")
    before = _store_errors("per-address", "allowed")
    # The generous ceiling fails open: the portal keeps serving.
    for _ in range(3):
        await limits.address("GET", "/api/v1/services", "192.0.2.10")
    await limits.subject("POST", "/api/v1/requests", "resident-1")
    # Registration fails closed: a 503 to retry, never a 500 and never unlimited.
    with pytest.raises(AppError) as waiting:
        await limits.address("POST", "/api/v1/residents", "192.0.2.10")
    assert waiting.value.status == 503
    assert waiting.value.extra == {"limit": "per-address-registration"}
    assert int(waiting.value.headers["Retry-After"]) >= 1
    assert _store_errors("per-address", "allowed") > before
    assert _store_errors("per-address-registration", "refused") >= 1
