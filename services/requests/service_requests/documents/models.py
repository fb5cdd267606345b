"""The documents' tables, in the requests database (the service's own registry).

`documents` holds every document's metadata, whichever backend keeps its bytes;
`document_chunks` holds the bytes when that backend is PostgreSQL; `document_uploads`
records each upload from before its first byte is stored until its `documents` row is
committed, so the bytes of an upload that never got a row (the process was killed) are
found and deleted by the cleanup. The two are not
linked by a foreign key: the store knows only random storage keys, and a document row
names its backend and key (so a deployment can move to S3 with old documents where they
are).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlmodel import Field

from service_requests.models import Base

DOCUMENT_STATUSES = ("pending", "clean", "infected")


class Document(Base, table=True):
    """One uploaded file: who uploaded it, what it is, where its bytes are, what it is
    attached to."""

    __tablename__ = "documents"
    __table_args__ = (
        sa.Index("ix_documents_owner_id_created_at", "owner_id", "created_at"),
        sa.Index(
            "ix_documents_attached_request_id",
            "attached_request_id",
            postgresql_where=sa.text("attached_request_id IS NOT NULL"),
        ),
        # The cleanup of unattached uploads reads only these.
        sa.Index(
            "ix_documents_unattached_created_at",
            "created_at",
            postgresql_where=sa.text("attached_request_id IS NULL"),
        ),
        sa.UniqueConstraint("storage_backend", "storage_key"),
    )

    id: UUID = Field(primary_key=True)
    owner_id: UUID
    # Display text only (names.display_filename); never a path or a storage name.
    filename: str
    content_type: str
    size: int = Field(sa_type=sa.BigInteger)
    sha256: str = Field(sa_type=sa.CHAR(64))
    status: str
    storage_backend: str
    storage_key: str
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    attached_request_id: UUID | None = Field(default=None, foreign_key="requests.id")
    # The service version's `required_documents[].code`, or `result` for the result.
    attached_code: str | None = None


class DocumentChunk(Base, table=True):
    """A piece of a document's bytes (PostgreSQL backend), at its byte offset."""

    __tablename__ = "document_chunks"

    storage_key: UUID = Field(primary_key=True)
    start: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    data: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))


class DocumentUpload(Base, table=True):
    """An upload under way: its storage key, reserved (and committed) before any byte is
    stored; removed in the transaction that inserts the document's row."""

    __tablename__ = "document_uploads"

    storage_key: str = Field(primary_key=True)
    storage_backend: str
    started_at: datetime = Field(sa_type=sa.DateTime(timezone=True), index=True)
