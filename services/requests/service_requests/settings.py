"""The requests service's settings: the shared variables, with this service's defaults."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID

from pydantic import Field, field_validator

from portal_shared.settings import ServiceSettings
from service_requests.calendar import Transfers
from service_requests.documents.settings import DocumentSettings


# The documents' variables (DOCUMENTS_*, CLAMD_*) come from their mixin.
class RequestsSettings(DocumentSettings, ServiceSettings):
    service_name: str = "requests"
    port: int = 8004
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/requests"
    # How often the overdue check runs (each replica runs it; marking is idempotent).
    overdue_check_interval_seconds: float = Field(default=300.0, gt=0)
    overdue_batch_size: int = Field(default=500, ge=1, le=10_000)
    # Transfers of working days newer than the holidays package (decrees it does not list
    # yet) or an agency's own: "*" for the whole country, or an agency id. JSON in
    # CALENDAR_TRANSFERS, e.g.
    # {"*": {"working_days": ["2026-01-03"], "days_off": ["2026-01-05"]}}.
    calendar_transfers: dict[str, Transfers] = Field(default_factory=dict)

    @field_validator("calendar_transfers")
    @classmethod
    def _keys_are_agencies(cls, value: dict[str, Transfers]) -> dict[str, Transfers]:
        for key in value:
            if key != "*":
                try:
                    UUID(key)
                except ValueError as exc:
                    raise ValueError(f"{key!r} is neither '*' nor an agency id") from exc
        return value


@lru_cache
def get_settings() -> RequestsSettings:
    return RequestsSettings()
