"""Real processes for the gateway's tests: echo upstreams, the four services, two gateways.

- `edge`: a gateway in front of small echo upstreams (`upstream_app.py`), with
  tight limits, an upstream that is down, a route that times out after 1 s, an
  upload route with a large body limit, and a trusted proxy (from
  127.0.0.200/31) in front of it; only 127.0.0.1 and that proxy are internal.
- `edge_replica`: a second gateway configured as `edge`; both count their limits
  in the test Redis (`redis_url`), as production's replicas share one.
- `portal`: a gateway in front of the real identity, directory, catalog and
  requests processes (migrated into the test PostgreSQL, on the test broker).

Both trust a `TestIssuer`, whose JWKS the identity echo upstream serves over
HTTP. Tests pick a loopback source address of their own (127.0.0.x) so that
per-address rate limits of one test never touch another.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from gateway.settings import DEFAULT_ROUTES
from portal_embedded.broker import free_port
from portal_testing.folders import close_after_tests_in
from portal_testing.processes import Connect, Process, Processes
from portal_testing.service import TestIssuer

HERE = Path(__file__).resolve().parent
PUBLIC_URL = "http://localhost:8000"
ALLOWED_ORIGIN = "https://portal.example.kz"
# name on the gateway -> (package run with -m, path segment the echo stands in for)
SERVICES = {
    "identity": ("identity", "me"),
    "directory": ("directory", "agencies"),
    "catalog": ("catalog", "services"),
    "requests": ("service_requests", "requests"),
    "notifications": ("notifications", "notifications"),
}


@pytest.fixture(scope="session")
def processes() -> Iterator[Processes]:
    procs = Processes()
    # Only these tests use them: they stop with the last of these tests, not the session.
    close_after_tests_in(procs.stop_all, HERE)
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="session")
def echoes(processes: Processes, issuer: TestIssuer) -> dict[str, Process]:
    """One echo upstream per service name; the identity one also serves the JWKS."""
    out = {}
    for name, (_, segment) in SERVICES.items():
        port = free_port()
        env = {"SERVICE_NAME": segment, "JWKS_JSON": json.dumps(issuer.jwks())}
        out[name] = processes.start(
            f"echo-{name}", [str(HERE / "upstream_app.py"), str(port)], env, port
        )
    return out


def gateway_env(
    port: int, upstreams: dict[str, str], jwks_url: str, kafka_bootstrap: str
) -> dict[str, str]:
    return {
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "PUBLIC_URL": PUBLIC_URL,
        "JWKS_URL": jwks_url,
        "PORTAL_ENV": "test",
        "IDENTITY_URL": upstreams["identity"],
        "DIRECTORY_URL": upstreams["directory"],
        "CATALOG_URL": upstreams["catalog"],
        "REQUESTS_URL": upstreams["requests"],
        "NOTIFICATIONS_URL": upstreams["notifications"],
        "CORS_ORIGINS": json.dumps([ALLOWED_ORIGIN]),
        # The test broker, where the gateway reads the identity service's revocations.
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
    }


EDGE_MAX_BODY = 64 * 1024
# The trusted proxy in front of the edge gateway (test_trust.py connects from .200).
INGRESS_NETWORK = "127.0.0.200/31"
UPLOAD_MAX_BODY = 1024**3


# Tight where the tests spend them (registration, submissions), loose elsewhere.
EDGE_LIMITS = {
    "LIMIT_PER_ADDRESS": "100000/minute",
    "LIMIT_REGISTRATION_PER_ADDRESS": "5/hour",
    "LIMIT_WRITES_PER_SUBJECT": "1000/minute",
    "LIMIT_SUBMISSIONS_PER_SUBJECT": "3/hour",
}


def _edge_env(
    echoes: dict[str, Process], kafka_bootstrap: str, redis_url: str, garbage_port: int
) -> tuple[int, dict[str, str]]:
    port = free_port()
    upstreams = {name: p.url for name, p in echoes.items()}
    env = gateway_env(port, upstreams, f"{echoes['identity'].url}/auth/jwks", kafka_bootstrap)
    routes = [r.model_dump() for r in DEFAULT_ROUTES] + [
        {"prefix": "/test/down", "upstream": "down", "public_methods": ["*"]},
        {"prefix": "/test/garbage", "upstream": "garbage", "public_methods": ["*"]},
        {"prefix": "/test/slow", "upstream": "catalog", "public_methods": ["*"], "timeout": 1.0},
        {"prefix": "/test/flaky", "upstream": "catalog", "public_methods": ["*"]},
        {
            "prefix": "/test/upload",
            "upstream": "catalog",
            "public_methods": ["*"],
            "max_body_bytes": UPLOAD_MAX_BODY,
        },
    ]
    env |= {
        # Nothing listens there: the port was free a moment ago and nobody took it.
        "EXTRA_UPSTREAMS": json.dumps(
            {
                "down": f"http://127.0.0.1:{free_port()}",
                "garbage": f"http://127.0.0.1:{garbage_port}",
            }
        ),
        # 127.0.0.200 and .201 stand for the ingress in front of the gateway; they, and
        # 127.0.0.1, are internal too (as a pod network is both), the other loopbacks not.
        "TRUSTED_PROXIES": json.dumps([INGRESS_NETWORK]),
        "INTERNAL_NETWORKS": json.dumps(["127.0.0.1/32", INGRESS_NETWORK]),
        "ROUTES": json.dumps(routes),
        "MAX_BODY_BYTES": str(EDGE_MAX_BODY),
        **EDGE_LIMITS,
        # Both edge replicas count in the one test Redis, as production's replicas do.
        "REDIS_URL": redis_url,
    }
    return port, env


@pytest.fixture(scope="session")
def garbage(processes: Processes) -> Process:
    port = free_port()
    return processes.start("garbage", [str(HERE / "garbage_upstream.py"), str(port)], {}, port)


@pytest.fixture(scope="session")
def edge(
    processes: Processes,
    echoes: dict[str, Process],
    garbage: Process,
    kafka_bootstrap: str,
    redis_url: str,
) -> Process:
    port, env = _edge_env(echoes, kafka_bootstrap, redis_url, garbage.port)
    return processes.start("gateway-edge", ["-m", "gateway", "serve"], env, port)


@pytest.fixture(scope="session")
def edge_replica(
    processes: Processes,
    echoes: dict[str, Process],
    garbage: Process,
    kafka_bootstrap: str,
    redis_url: str,
    edge: Process,
) -> Process:
    """A second process configured as `edge`, on the same Redis: another replica."""
    port, env = _edge_env(echoes, kafka_bootstrap, redis_url, garbage.port)
    return processes.start("gateway-edge-2", ["-m", "gateway", "serve"], env, port)


@pytest.fixture(scope="session")
def services(
    processes: Processes, echoes: dict[str, Process], postgres_url: str, kafka_bootstrap: str
) -> dict[str, Process]:
    """The real services, each migrated into its own database, then serving; the five at
    once, as `make run` starts them (one after the other took a minute on two cores)."""
    envs = {
        name: {
            "DATABASE_URL": f"{postgres_url}/gateway_{name}",
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "PORT": str(free_port()),
            "HOST": "127.0.0.1",
            "PUBLIC_URL": PUBLIC_URL,
            "JWKS_URL": f"{echoes['identity'].url}/auth/jwks",
            "PORTAL_ENV": "test",
            "KAFKA_SESSION_TIMEOUT_MS": "3000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
        }
        for name in SERVICES
    }

    def migrate(name: str) -> None:
        processes.run(f"{name} migrate", ["-m", SERVICES[name][0], "migrate"], envs[name])

    def serve(name: str) -> Process:
        env = envs[name]
        return processes.start(name, ["-m", SERVICES[name][0], "serve"], env, int(env["PORT"]))

    with ThreadPoolExecutor(len(SERVICES)) as pool:
        list(pool.map(migrate, SERVICES))
        return dict(zip(SERVICES, pool.map(serve, SERVICES), strict=True))


@pytest.fixture(scope="session")
def portal(
    processes: Processes,
    services: dict[str, Process],
    echoes: dict[str, Process],
    kafka_bootstrap: str,
    redis_url: str,
) -> Process:
    """The portal as deployed: the default limits, counted in Redis."""
    port = free_port()
    upstreams = {name: p.url for name, p in services.items()}
    env = gateway_env(port, upstreams, f"{echoes['identity'].url}/auth/jwks", kafka_bootstrap)
    env["REDIS_URL"] = redis_url
    return processes.start("gateway-portal", ["-m", "gateway", "serve"], env, port)


@pytest.fixture
def connect() -> Connect:
    """`connect(gateway, source="127.0.0.x")`: a client from that loopback address, so the
    per-address rate limits one test spends never touch another test."""

    def make(gateway: Process, source: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=source)
        return httpx.AsyncClient(
            base_url=gateway.url,
            transport=transport,
            timeout=30.0,
            headers={"Accept-Language": "en"},  # problems in English, as the tests read them
        )

    return make
