"""The catalog service's settings: the shared variables, with this service's defaults."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from portal_shared.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    port: int = 8003
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/catalog"
    # How long `seed-demo` waits for the directory's agencies to arrive over Kafka.
    seed_wait_seconds: float = Field(default=120.0, ge=0, le=3600)


@lru_cache
def get_settings() -> CatalogSettings:
    return CatalogSettings()
