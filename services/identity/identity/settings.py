"""The identity service's settings: the shared variables, with this service's defaults."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic import Field

from portal_shared.revocation import MAX_TOKEN_LIFETIME
from portal_shared.settings import ServiceSettings

# Public in this repository: production refuses to start with it (demo_secrets).
DEMO_KEY_SECRET = "identity-demo-key-encryption-secret"  # noqa: S105


class IdentitySettings(ServiceSettings):
    demo_secrets: ClassVar[dict[str, str]] = {
        **ServiceSettings.demo_secrets,
        "key_encryption_secret": DEMO_KEY_SECRET,
    }

    service_name: str = "identity"
    port: int = 8001
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/identity"
    # Encrypts the signing keys' private material at rest in the identity database.
    key_encryption_secret: str = DEMO_KEY_SECRET
    # Resource servers forget a revocation MAX_TOKEN_LIFETIME after it: no token may outlive it.
    access_token_ttl: int = Field(default=300, ge=30, le=MAX_TOKEN_LIFETIME)
    id_token_ttl: int = Field(default=300, ge=30, le=3600)
    refresh_token_ttl: int = Field(default=8 * 3600, ge=60, le=30 * 24 * 3600)
    # RFC 9700 recommends a short code lifetime; the issue caps it at 60 s.
    authorization_code_ttl: int = Field(default=60, ge=5, le=60)
    client_credentials_ttl: int = Field(default=300, ge=30, le=MAX_TOKEN_LIFETIME)
    # Failed logins: per account (whether it exists or not) and per client address. The
    # account lock stops guessing one password; the address count is high because a carrier
    # NAT or a public-service office puts thousands of residents behind one address, whose
    # mistyped passwords must not lock the others out (it only stops spraying many accounts).
    login_max_failures: int = Field(default=10, ge=1, le=100)
    login_failure_window: int = Field(default=900, ge=10)
    login_lockout: int = Field(default=900, ge=1)
    login_max_failures_per_address: int = Field(default=100, ge=1, le=10_000)
    # Failed client authentications at the token endpoint, per client id (same window and
    # lockout): guessing a machine client's secret, from any number of addresses.
    client_auth_max_failures: int = Field(default=20, ge=1, le=10_000)
    # Registrations refused because the IIN or email has an account, per client address:
    # the 409 tells whether someone is registered, so probing it is throttled like sign-ins
    # (same window and lockout).
    registration_max_conflicts_per_address: int = Field(default=10, ge=1, le=10_000)
    # argon2id cost: OWASP's minimum is 19 MiB and 2 passes; tests may go lower.
    argon2_memory_kib: int = Field(default=19_456, ge=8)
    argon2_time_cost: int = Field(default=2, ge=1)
    password_min_length: int = Field(default=10, ge=8, le=64)
    # Expired codes, tokens, revocations and lockouts are deleted this often, once they
    # have been expired for the retention (kept that long for incident investigations).
    cleanup_interval_seconds: float = Field(default=3600.0, gt=0)
    expired_token_retention_seconds: int = Field(default=86_400, ge=0)
    # How long `seed-demo` waits for the demo agency to arrive from the directory.
    seed_agency_wait: float = Field(default=120.0, ge=0)


@lru_cache
def get_settings() -> IdentitySettings:
    return IdentitySettings()
