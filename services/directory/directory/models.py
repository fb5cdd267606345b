"""The directory service's tables. Its own registry keeps them apart from other services'."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from portal_shared.db import new_registry


class Base(SQLModel, registry=new_registry()):
    """Base of every table in the directory database."""


class Agency(Base, table=True):
    """A state agency or one of its subdivisions; `version` counts its changes."""

    __tablename__ = "agencies"
    __table_args__ = (
        sa.CheckConstraint("status IN ('active', 'inactive')", name="status"),
        sa.CheckConstraint("parent_id IS DISTINCT FROM id", name="not_own_parent"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        # Substring search (LIKE '%q%') over the folded names uses this trigram index.
        sa.Index(
            "ix_agencies_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    code: str = Field(sa_column=sa.Column(sa.Text, nullable=False, unique=True))
    name_kk: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    name_ru: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    name_en: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    kind: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    parent_id: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(sa.Uuid, sa.ForeignKey("agencies.id"), nullable=True, index=True),
    )
    bin: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    city: str = Field(sa_column=sa.Column(sa.Text, nullable=False, index=True))
    address: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    timezone: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    working_hours: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))
    contacts: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))
    status: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    version: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    # The three names and the code, case-folded in Python: the search never depends on
    # the database's locale to fold Kazakh or Russian letters.
    search_text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(
        sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, index=True)
    )


class AgencyAudit(Base, table=True):
    """One change to an agency: who made it, when, and each field's value before and after."""

    __tablename__ = "agency_audit"

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    )
    agency_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid, sa.ForeignKey("agencies.id"), nullable=False, index=True)
    )
    version: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    action: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    actor_subject: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    actor_client_id: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    request_id: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    changes: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))
    at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
