"""The identity service's settings: the shared variables, with this service's defaults."""

from __future__ import annotations

from functools import lru_cache

from portal_shared.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    service_name: str = "identity"
    port: int = 8001
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/identity"


@lru_cache
def get_settings() -> IdentitySettings:
    return IdentitySettings()
