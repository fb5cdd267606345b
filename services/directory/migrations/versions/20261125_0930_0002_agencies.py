"""Agencies with their hierarchy, and the audit trail of their changes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "agencies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name_kk", sa.Text(), nullable=False),
        sa.Column("name_ru", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("bin", sa.Text(), nullable=False),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("working_hours", JSONB(), nullable=False),
        sa.Column("contacts", JSONB(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["agencies.id"], name="fk_agencies_parent_id_agencies"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agencies"),
        sa.UniqueConstraint("code", name="uq_agencies_code"),
        sa.CheckConstraint("status IN ('active', 'inactive')", name="ck_agencies_status"),
        sa.CheckConstraint("parent_id IS DISTINCT FROM id", name="ck_agencies_not_own_parent"),
        sa.CheckConstraint("version >= 1", name="ck_agencies_version_positive"),
    )
    op.create_index("ix_agencies_parent_id", "agencies", ["parent_id"])
    op.create_index("ix_agencies_city", "agencies", ["city"])
    op.create_index("ix_agencies_updated_at", "agencies", ["updated_at"])
    # Substring search (LIKE '%q%') over the folded names uses this trigram index.
    op.create_index(
        "ix_agencies_search_text_trgm",
        "agencies",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    op.create_table(
        "agency_audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("actor_subject", sa.Text(), nullable=False),
        sa.Column("actor_client_id", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("changes", JSONB(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name="fk_agency_audit_agency_id_agencies"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agency_audit"),
    )
    op.create_index("ix_agency_audit_agency_id", "agency_audit", ["agency_id"])


def downgrade() -> None:
    op.drop_index("ix_agency_audit_agency_id", table_name="agency_audit")
    op.drop_table("agency_audit")
    op.drop_index("ix_agencies_search_text_trgm", table_name="agencies")
    op.drop_index("ix_agencies_updated_at", table_name="agencies")
    op.drop_index("ix_agencies_city", table_name="agencies")
    op.drop_index("ix_agencies_parent_id", table_name="agencies")
    op.drop_table("agencies")
