"""The directory service's settings: the shared variables, with this service's defaults."""

from __future__ import annotations

from functools import lru_cache

from portal_shared.settings import ServiceSettings


class DirectorySettings(ServiceSettings):
    service_name: str = "directory"
    port: int = 8002
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/directory"


@lru_cache
def get_settings() -> DirectorySettings:
    return DirectorySettings()
