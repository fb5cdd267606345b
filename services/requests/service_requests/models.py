"""The requests service's tables. Its own registry keeps them apart from other services'.

Besides the requests and their history, the service keeps local copies of what it
needs from other services (agencies' time zones, every published version of each
state service), filled from their events, so a submission never calls another service.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from portal_shared.db import new_registry


class Base(SQLModel, registry=new_registry()):
    """Base of every table in the requests database."""


def _tz() -> Any:
    return sa.DateTime(timezone=True)


class Agency(Base, table=True):
    """Local copy of a directory agency: only what due dates need."""

    __tablename__ = "agencies"

    id: UUID = Field(primary_key=True)
    timezone: str
    status: str
    version: int


class Offering(Base, table=True):
    """Local copy of a state service's current state (named so the code never reads
    `service.service`)."""

    __tablename__ = "offerings"

    id: UUID = Field(primary_key=True)
    agency_id: UUID
    status: str
    # The newest catalog version applied here, whatever its status.
    version: int
    # The version new submissions pin; null until one is published.
    published_version: int | None = None


class OfferingVersion(Base, table=True):
    """One published, immutable version of a state service: requests pin it."""

    __tablename__ = "offering_versions"

    service_id: UUID = Field(primary_key=True)
    version: int = Field(primary_key=True)
    agency_id: UUID
    code: str
    term_working_days: int
    refusal_grounds: list[dict[str, Any]] = Field(sa_column=sa.Column(JSONB, nullable=False))
    form_schema: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))
    # `required_documents` of the catalog's version: code and rules (schemas.DocumentKind).
    required_documents: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=sa.Column(JSONB, nullable=False, server_default=sa.text("'[]'")),
    )


class ServiceRequest(Base, table=True):
    """A resident's application for a state service."""

    __tablename__ = "requests"
    __table_args__ = (
        sa.Index("ix_requests_agency_submitted", "agency_id", "submitted_at", "id"),
        sa.Index("ix_requests_applicant_submitted", "applicant_id", "submitted_at", "id"),
        sa.Index("ix_requests_updated", "updated_at", "id"),
        sa.Index("ix_requests_submitted", "submitted_at", "id"),
        sa.Index(
            "ix_requests_agency_status_submitted", "agency_id", "status", "submitted_at", "id"
        ),
        # The overdue check scans only open requests not yet marked.
        sa.Index(
            "ix_requests_overdue_candidates",
            "due_date",
            postgresql_where=sa.text(
                "overdue_at IS NULL"
                " AND status IN ('submitted', 'in_review', 'needs_info', 'approved')"
            ),
        ),
    )

    id: UUID = Field(primary_key=True)
    number: str = Field(unique=True)
    service_id: UUID
    service_version: int
    agency_id: UUID
    applicant_id: UUID
    status: str
    form_data: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))
    submitted_at: datetime = Field(sa_type=_tz())
    # The agency's zone at submission: the overdue check compares local dates in it.
    timezone: str
    due_date: date
    version: int
    updated_at: datetime = Field(sa_type=_tz())
    overdue_at: datetime | None = Field(default=None, sa_type=_tz())
    reason_code: str | None = None
    result: str | None = None


class HistoryEntry(Base, table=True):
    """One transition of a request: who, when, why, and the status before and after."""

    __tablename__ = "request_history"

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    )
    request_id: UUID = Field(index=True)
    action: str
    from_status: str | None = None
    to_status: str
    version: int
    actor_id: str
    actor_role: str
    comment: str | None = None
    reason_code: str | None = None
    at: datetime = Field(sa_type=_tz())


class IdempotencyKey(Base, table=True):
    """A resident's Idempotency-Key: the body it was first used with and the request made."""

    __tablename__ = "idempotency_keys"

    applicant_id: UUID = Field(primary_key=True)
    key: str = Field(primary_key=True)
    body_hash: str
    request_id: UUID
    created_at: datetime = Field(sa_type=_tz())


class NumberCounter(Base, table=True):
    """The last request number a year had before numbers came from sequences (migration
    0004): each year's sequence starts after it."""

    __tablename__ = "request_numbers"

    year: int = Field(primary_key=True)
    last: int
