"""The catalog service's tables. Its own registry keeps them apart from other services'.

A state service (`StateService`) has one editable draft and any number of
immutable published versions (`StateServiceVersion`). The `current` column is
what the public sees of it (the latest published version), copied onto the row
so that lists filter and page without joining the versions; `agencies` is the
local copy of the directory, kept from `directory.agency` events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from portal_shared.db import new_registry


class Base(SQLModel, registry=new_registry()):
    """Base of every table in the catalog database."""


def _jsonb() -> Any:
    return Field(sa_column=sa.Column(JSONB, nullable=False))


def _moment(nullable: bool = False) -> Any:
    return Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=nullable))


class Agency(Base, table=True):
    """The directory's agency as its last applied event described it."""

    __tablename__ = "agencies"

    id: UUID = Field(primary_key=True)
    code: str
    status: str
    # The directory's aggregate version: an event applies only if it is newer.
    version: int
    data: dict[str, Any] = _jsonb()
    updated_at: datetime = _moment()


class StateService(Base, table=True):
    """A state service: its draft, and what the public sees of it."""

    __tablename__ = "state_services"

    id: UUID = Field(primary_key=True)
    code: str = Field(unique=True)
    # The agency, status and version of what the public sees (the draft's for a
    # service never published), so lists filter on plain columns.
    agency_id: UUID = Field(index=True)
    status: str
    version: int = 0
    current: dict[str, Any] = _jsonb()
    # Casefolded names, descriptions and code in the three languages: the text
    # search compares casefolded strings, whatever collation the database has.
    search_text: str
    draft: dict[str, Any] = _jsonb()
    # Bumped by every edit of the draft; it is the draft's ETag for If-Match.
    draft_revision: int = 1
    # The revision that the latest version was published from.
    published_revision: int = 0
    created_at: datetime = _moment()
    updated_at: datetime = _moment()
    draft_updated_at: datetime = _moment()
    published_at: datetime | None = _moment(nullable=True)


class StateServiceVersion(Base, table=True):
    """One published version of a service's standard; never changed once written."""

    __tablename__ = "state_service_versions"

    service_id: UUID = Field(foreign_key="state_services.id", primary_key=True)
    version: int = Field(primary_key=True)
    standard: dict[str, Any] = _jsonb()
    published_at: datetime = _moment()
    published_by: str


class AuditEntry(Base, table=True):
    """Who did what to a service, and when."""

    __tablename__ = "state_service_audit"

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    )
    service_id: UUID = Field(foreign_key="state_services.id", index=True)
    at: datetime = _moment()
    actor: str
    action: str
    version: int | None = None
    revision: int | None = None
    detail: dict[str, Any] = _jsonb()
