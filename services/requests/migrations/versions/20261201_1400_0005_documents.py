"""Documents: their metadata (`documents`), the PostgreSQL backend's bytes
(`document_chunks`, one row per 256 KiB piece, keyed by a random storage key and the
piece's byte offset), and the uploads under way (`document_uploads`: a storage key is
recorded there before its first byte is stored, so a crash mid-upload leaves something
for the cleanup to find).

The chunks' `data` is stored EXTERNAL: uncompressed out of line, because PDFs, JPEGs and
PNGs are compressed already and trying again only costs CPU on every write.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("owner_id", sa.Uuid, nullable=False),
        sa.Column("filename", sa.String, nullable=False),
        sa.Column("content_type", sa.String, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.CHAR(64), nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("storage_backend", sa.String, nullable=False),
        sa.Column("storage_key", sa.String, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("attached_request_id", sa.Uuid, nullable=True),
        sa.Column("attached_code", sa.String, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.UniqueConstraint(
            "storage_backend", "storage_key", name="uq_documents_storage_backend_storage_key"
        ),
        sa.ForeignKeyConstraint(
            ["attached_request_id"],
            ["requests.id"],
            name="fk_documents_attached_request_id_requests",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'clean', 'infected')",
            name="ck_documents_status",
        ),
        sa.CheckConstraint(
            "storage_backend IN ('postgres', 's3')", name="ck_documents_storage_backend"
        ),
        sa.CheckConstraint(
            "(attached_request_id IS NULL) = (attached_code IS NULL)",
            name="ck_documents_attached_with_code",
        ),
        sa.CheckConstraint("size >= 0", name="ck_documents_size"),
    )
    op.create_index("ix_documents_owner_id_created_at", "documents", ["owner_id", "created_at"])
    op.create_index(
        "ix_documents_attached_request_id",
        "documents",
        ["attached_request_id"],
        postgresql_where=sa.text("attached_request_id IS NOT NULL"),
    )
    op.create_index(
        "ix_documents_unattached_created_at",
        "documents",
        ["created_at"],
        postgresql_where=sa.text("attached_request_id IS NULL"),
    )
    op.create_table(
        "document_chunks",
        sa.Column("storage_key", sa.Uuid, nullable=False),
        sa.Column("start", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("storage_key", "start", name="pk_document_chunks"),
    )
    op.execute("ALTER TABLE document_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    op.create_table(
        "document_uploads",
        sa.Column("storage_key", sa.String, nullable=False),
        sa.Column("storage_backend", sa.String, nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("storage_key", name="pk_document_uploads"),
    )
    op.create_index("ix_document_uploads_started_at", "document_uploads", ["started_at"])


def downgrade() -> None:
    op.drop_table("document_uploads")
    op.drop_table("document_chunks")
    op.drop_index("ix_documents_unattached_created_at", table_name="documents")
    op.drop_index("ix_documents_attached_request_id", table_name="documents")
    op.drop_index("ix_documents_owner_id_created_at", table_name="documents")
    op.drop_table("documents")
