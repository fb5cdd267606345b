"""The catalog service's settings: the shared variables, with this service's defaults."""

from __future__ import annotations

from functools import lru_cache

from portal_shared.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    port: int = 8003
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/catalog"


@lru_cache
def get_settings() -> CatalogSettings:
    return CatalogSettings()
