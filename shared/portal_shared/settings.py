"""The settings every process reads from its environment, and the demo-secret guard.

Each service subclasses `ServiceSettings` with its own variables only. In
`production` mode a process refuses to start while any secret still has the
value the embedded demo ships with.
"""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["demo", "test", "production"]

# Public in this repository: production refuses to start with it (demo_secrets).
DEMO_CURSOR_SECRET = "portal-demo-cursor-secret-not-for-production"  # noqa: S105


class DemoSecretInProduction(ValueError):
    """A production process was configured with a secret that is public in this repository."""


class ServiceSettings(BaseSettings):
    """Variables common to every process; names are the environment variables, upper-cased."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    # Field name -> the demo value that production must never run with.
    demo_secrets: ClassVar[dict[str, str]] = {"cursor_secret": DEMO_CURSOR_SECRET}

    environment: Environment = Field(default="demo", alias="PORTAL_ENV")
    service_name: str = "portal"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "postgresql+asyncpg://portal@127.0.0.1:55432/portal"
    database_pool_size: int = Field(default=10, ge=1, le=200)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Tansu (the embedded broker) cannot do InitProducerId; real Kafka should.
    kafka_idempotence: bool = False
    kafka_partitions: int = Field(default=6, ge=1, le=1024)
    kafka_replication_factor: int = Field(default=1, ge=1, le=7)
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    kafka_heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    # Longest a fetch waits at the broker; with Tansu it is also the delivery latency floor.
    kafka_fetch_max_wait_ms: int = Field(default=20, ge=1, le=5_000)
    # A replica can serve HTTP only, with the relay and consumers in a worker process.
    run_relay: bool = True
    run_consumers: bool = True
    # Prepended to every consumer group id, so two deployments (or two test suites)
    # can share one Kafka cluster without splitting each other's partitions.
    kafka_group_prefix: str = ""
    # Every replica reads the identity service's revocations into its token verifier's
    # denylist (portal_shared.revocation); off only where no token is ever verified.
    revocation_feed: bool = True
    consumer_max_attempts: int = Field(default=5, ge=1, le=100)
    public_url: str = "http://localhost:8000"
    # Where resource servers fetch the issuer's keys; inside a cluster this is the
    # identity service directly rather than the public origin.
    jwks_url: str = "http://127.0.0.1:8001/auth/jwks"
    log_level: str = "INFO"
    log_json: bool = True
    # The proxies in front of this process, as CIDRs: uvicorn believes X-Forwarded-For and
    # X-Forwarded-Proto from these peers only (its forwarded_allow_ips), reading the chain
    # right to left past them as the gateway does. A service's proxy is the gateway, so
    # this is where the gateway's connections come from: loopback under `make run`, the pod
    # network in Kubernetes, the compose network. Anyone else's X-Forwarded-For is ignored:
    # per-address limits (identity's sign-in and registration throttles) count the peer.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    # Signs list cursors (portal_shared.paging); every replica of a service needs the same.
    cursor_secret: str = Field(default=DEMO_CURSOR_SECRET, min_length=16)
    # Bounds on every JSON request body (portal_shared.bodies), so whatever is stored can be
    # read back: orjson writes at most 254 levels, and a response wraps a stored value in a
    # few more (page, items, item), hence the ceiling on the depth.
    json_max_bytes: int = Field(default=1024 * 1024, ge=1024)
    json_max_depth: int = Field(default=32, ge=2, le=200)
    json_max_keys: int = Field(default=1000, ge=1)
    json_max_items: int = Field(default=10_000, ge=1)
    json_max_string: int = Field(default=64 * 1024, ge=1)

    @property
    def issuer(self) -> str:
        return self.public_url.rstrip("/") + "/auth"

    @property
    def token_audience(self) -> str:
        return "portal-api"

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # A host address is a /32 (or /128) network. Normalised, because uvicorn takes a
        # network with host bits set ("10.244.0.7/16") for a literal name and never matches it.
        return tuple(str(ip_network(network.strip(), strict=False)) for network in value)

    @model_validator(mode="after")
    def _refuse_demo_secrets(self) -> ServiceSettings:
        if self.environment != "production":
            return self
        leaked = [
            name.upper()
            for name, demo in self.demo_secrets.items()
            if str(getattr(self, name, "")) == demo
        ]
        if leaked:
            raise DemoSecretInProduction(
                "production refuses the demo value of " + ", ".join(sorted(leaked))
            )
        return self

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to log: secrets are masked."""
        data = self.model_dump()
        for name in self.demo_secrets:
            if name in data:
                data[name] = "***"
        return data
