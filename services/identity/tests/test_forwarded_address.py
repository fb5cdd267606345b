"""Behind the gateway, identity counts the client's address, not the gateway's (issue 19).

Registration's "this account exists" answers are throttled per client address. A service
believes `X-Forwarded-For` only from the proxies in `TRUSTED_PROXIES` (the gateway: the pod
network in Kubernetes); from them it counts the address the header names, so one client
behind the gateway cannot lock every other one out. From any other peer the header is
ignored, so a caller cannot buy a fresh budget by writing a new address each time, even
from loopback, which uvicorn trusts unless told otherwise. The service runs as a real
process (`python -m identity serve`), where uvicorn reads the header.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from identity.__main__ import SERVICE_ROOT
from portal_embedded.broker import free_port
from portal_testing.oidc import valid_iin
from portal_testing.processes import Process, Processes
from portal_testing.service import fresh_database

CONFLICTS = 2  # REGISTRATION_MAX_CONFLICTS_PER_ADDRESS of the process below
# The gateway's network (a pod network in Kubernetes), the one TRUSTED_PROXIES names.
GATEWAYS = "127.0.0.200/31"
GATEWAY = "127.0.0.201"
# Loopback, which uvicorn would trust by default: the setting must replace that default.
OUTSIDER = "127.0.0.1"
NEUTRAL = "127.0.0.202"  # where the setting-up requests come from


@pytest.fixture(scope="module")
async def database_url(postgres_url: str) -> str:
    url = f"{postgres_url}/identity_forwarded"
    await fresh_database(SERVICE_ROOT, url)
    return url


@pytest.fixture(scope="module")
def identity(database_url: str, kafka_bootstrap: str) -> Iterator[Process]:
    processes = Processes()
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        # HTTP only: its events and consumer groups would mix with the in-process app's.
        "RUN_RELAY": "false",
        "RUN_CONSUMERS": "false",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PORTAL_ENV": "test",
        "TRUSTED_PROXIES": json.dumps([GATEWAYS]),
        "REGISTRATION_MAX_CONFLICTS_PER_ADDRESS": str(CONFLICTS),
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_TIME_COST": "1",
    }
    try:
        yield processes.start("identity", ["-m", "identity", "serve"], env, port)
    finally:
        processes.stop_all()


@pytest.fixture(scope="module")
async def taken(identity: Process) -> dict[str, str]:
    """A resident who has an account: registering them again is a conflict."""
    resident = {
        "iin": valid_iin(77),
        "given_name": "Aruzhan",
        "family_name": "Proxied",
        "email": "proxied@example.kz",
        "phone": "+77010000077",
        "password": "resident-pass-123",
    }
    transport = httpx.AsyncHTTPTransport(local_address=NEUTRAL)
    async with httpx.AsyncClient(base_url=identity.url, transport=transport) as client:
        created = await client.post("/api/v1/residents", json=resident)
    assert created.status_code == 201, created.text
    return resident


async def _register(
    identity: Process, source: str, forwarded_for: str, resident: dict[str, str]
) -> int:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(base_url=identity.url, transport=transport) as client:
        response = await client.post(
            "/api/v1/residents", json=resident, headers={"X-Forwarded-For": forwarded_for}
        )
    return response.status_code


async def test_behind_a_trusted_proxy_each_client_has_its_own_budget(
    identity: Process, taken: dict[str, str]
) -> None:
    prober = [await _register(identity, GATEWAY, "198.51.100.1", taken) for _ in range(3)]
    assert prober == [409] * CONFLICTS + [429]
    # Another client through the same gateway is not locked out by the first one.
    assert await _register(identity, GATEWAY, "198.51.100.2", taken) == 409


async def test_a_forged_forwarded_for_from_anyone_else_is_ignored(
    identity: Process, taken: dict[str, str]
) -> None:
    # A new address in the header each time: were it believed, each would be a new budget.
    statuses = [await _register(identity, OUTSIDER, f"203.0.113.{n}", taken) for n in range(1, 4)]
    assert statuses == [409] * CONFLICTS + [429]
