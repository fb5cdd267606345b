"""The gateway's settings: upstreams, the route table, limits, CORS and timeouts.

Everything is configurable from the environment: `IDENTITY_URL`, `DIRECTORY_URL`,
`CATALOG_URL`, `REQUESTS_URL` for the four services (`EXTRA_UPSTREAMS` as JSON for
more), flat variables for the knobs (`MAX_BODY_BYTES`, `CORS_ORIGINS` as a JSON
list, `REDIS_URL`, `LIMIT_PER_ADDRESS`...), and the whole route table as JSON in `ROUTES`
when a deployment needs another shape.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from typing import ClassVar

from limits import parse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from portal_shared.settings import ServiceSettings


class RouteConfig(BaseModel):
    """One path prefix and the service behind it."""

    model_config = ConfigDict(frozen=True)

    prefix: str
    upstream: str
    # Methods that need no token at the edge; "*" means every method.
    public_methods: tuple[str, ...] = ()
    # Seconds the upstream has to start answering once the request is sent.
    timeout: float | None = Field(default=None, gt=0)
    # A route that takes uploads may allow more than MAX_BODY_BYTES.
    max_body_bytes: int | None = Field(default=None, ge=0)

    @field_validator("prefix")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("a route prefix starts with '/'")
        return value.rstrip("/") or "/"


READS = ("GET", "HEAD")

DEFAULT_ROUTES = (
    # The OIDC endpoints, login form and token endpoint are public by nature.
    RouteConfig(prefix="/auth", upstream="identity", public_methods=("*",)),
    RouteConfig(prefix="/api/v1/residents", upstream="identity", public_methods=("POST",)),
    RouteConfig(prefix="/api/v1/me", upstream="identity"),
    RouteConfig(prefix="/api/v1/users", upstream="identity"),
    RouteConfig(prefix="/api/v1/clients", upstream="identity"),
    RouteConfig(prefix="/api/v1/agencies", upstream="directory", public_methods=READS),
    RouteConfig(prefix="/api/v1/services", upstream="catalog", public_methods=READS),
    RouteConfig(prefix="/api/v1/requests", upstream="requests"),
    # The longest prefix wins, so this one is notifications' while the rest of /api/v1/me
    # stays identity's.
    RouteConfig(prefix="/api/v1/me/notification-preferences", upstream="notifications"),
    RouteConfig(prefix="/api/v1/notifications", upstream="notifications"),
    # Uploads: up to three 10 MB files per request (the requests service refuses past
    # 30 MB at the first byte), plus the multipart framing. Bodies past 64 KiB stream
    # through (proxy.REPLAYABLE_BODY), so the cap costs no memory.
    RouteConfig(prefix="/api/v1/documents", upstream="requests", max_body_bytes=31 * 1024 * 1024),
    RouteConfig(prefix="/api/v1/subscriptions", upstream="notifications"),
)

# Anonymous account creation: limited per address more strictly than everything else.
DEFAULT_REGISTRATION_ENDPOINTS = ("POST /api/v1/residents",)
# Submissions: limited per token subject besides the limit on all writes.
DEFAULT_SUBMISSION_ENDPOINTS = ("POST /api/v1/requests",)


def _rate(value: str) -> str:
    try:
        parse(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a rate such as '6000/minute'") from exc
    return value


class GatewaySettings(ServiceSettings):
    # The gateway lists nothing and signs no cursor: CURSOR_SECRET is the services' secret,
    # so production need not (and should not) hand it to the gateway.
    demo_secrets: ClassVar[dict[str, str]] = {}

    service_name: str = "gateway"
    port: int = 8000
    identity_url: str = "http://127.0.0.1:8001"
    directory_url: str = "http://127.0.0.1:8002"
    catalog_url: str = "http://127.0.0.1:8003"
    requests_url: str = "http://127.0.0.1:8004"
    notifications_url: str = "http://127.0.0.1:8005"
    extra_upstreams: dict[str, str] = Field(default_factory=dict)
    routes: tuple[RouteConfig, ...] = DEFAULT_ROUTES
    registration_endpoints: tuple[str, ...] = DEFAULT_REGISTRATION_ENDPOINTS
    submission_endpoints: tuple[str, ...] = DEFAULT_SUBMISSION_ENDPOINTS

    upstream_timeout: float = Field(default=30.0, gt=0)
    upstream_connect_timeout: float = Field(default=3.0, gt=0)
    # Idle keep-alive connections are dropped before uvicorn's 5 s keep-alive closes them.
    upstream_idle_timeout: float = Field(default=4.0, gt=0)
    upstream_max_connections: int = Field(default=256, ge=1)

    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=0)

    # Where the limits are counted, shared by every replica; unset: this process's memory
    # (right for one gateway only). redis://, rediss:// or valkey:// URLs.
    redis_url: str | None = None
    # Seconds a limit check may wait for Redis before the limit's outage rule applies.
    limit_store_timeout: float = Field(default=0.25, gt=0)
    # Rates in `limits` notation ("N/second|minute|hour|day", "N per M minutes"); sliding
    # windows. The figures are argued in gateway/README.md.
    limit_per_address: str = "20000/minute"
    limit_registration_per_address: str = "300/hour"
    limit_writes_per_subject: str = "120/minute"
    limit_submissions_per_subject: str = "60/hour"

    # Frontend origins allowed to call the API from a browser (exact matches).
    cors_origins: tuple[str, ...] = ("http://localhost:3000",)
    cors_max_age: int = Field(default=600, ge=0)
    # Proxies in front of the gateway (the ingress), as CIDRs: X-Forwarded-For is read right
    # to left past these hops, and their X-Forwarded-Proto/Host are kept. Empty: the gateway
    # is the edge and believes no caller's claims about where it comes from.
    trusted_proxies: tuple[str, ...] = ()
    # Client addresses (after the trusted hops) that may read /metrics and the detailed
    # /readyz; everyone else gets a plain readiness answer and no metrics.
    internal_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    hsts: bool = True
    # Merged OpenAPI/AsyncAPI documents are rebuilt after this many seconds.
    docs_ttl: float = Field(default=300.0, gt=0)
    # The built web app served at `/` (gateway.webapp); unset: the repository's web/dist if built.
    web_app_dir: Path | None = None

    @property
    def upstreams(self) -> dict[str, str]:
        """Upstream name -> base URL (`http://host:port`)."""
        return {
            "identity": self.identity_url,
            "directory": self.directory_url,
            "catalog": self.catalog_url,
            "requests": self.requests_url,
            "notifications": self.notifications_url,
            **self.extra_upstreams,
        }

    @field_validator(
        "limit_per_address",
        "limit_registration_per_address",
        "limit_writes_per_subject",
        "limit_submissions_per_subject",
    )
    @classmethod
    def _rates(cls, value: str) -> str:
        return _rate(value)

    @field_validator("trusted_proxies", "internal_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            # A host address without a prefix length is a /32 (or /128) network.
            ip_network(network.strip(), strict=False)
        return tuple(n.strip() for n in value)

    @model_validator(mode="after")
    def _routes_resolve(self) -> GatewaySettings:
        upstreams = self.upstreams
        for name, url in upstreams.items():
            # Inside the cluster the services speak plain HTTP; TLS ends at the edge.
            if not url.startswith("http://"):
                raise ValueError(f"upstream {name}: only http:// upstreams are supported")
        for route in self.routes:
            if route.upstream not in upstreams:
                raise ValueError(f"route {route.prefix}: unknown upstream {route.upstream}")
        return self


@lru_cache
def get_settings() -> GatewaySettings:
    return GatewaySettings()
