"""The requests service's settings: the shared variables, with this service's defaults."""

from __future__ import annotations

from functools import lru_cache

from portal_shared.settings import ServiceSettings


class RequestsSettings(ServiceSettings):
    service_name: str = "requests"
    port: int = 8004
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/requests"


@lru_cache
def get_settings() -> RequestsSettings:
    return RequestsSettings()
