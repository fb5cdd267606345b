"""State services, their published versions and audit trail, and the local agency copy.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:15:00
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
    op.create_table(
        "agencies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", JSONB(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
    )
    op.create_table(
        "state_services",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("current", JSONB(), nullable=False),
        sa.Column("search_text", sa.String(), nullable=False),
        sa.Column("draft", JSONB(), nullable=False),
        sa.Column("draft_revision", sa.Integer(), nullable=False),
        sa.Column("published_revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("draft_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_services")),
        sa.UniqueConstraint("code", name=op.f("uq_state_services_code")),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'withdrawn')", name=op.f("ck_state_services_status")
        ),
    )
    op.create_index(
        op.f("ix_state_services_agency_id"), "state_services", ["agency_id"], unique=False
    )
    op.create_table(
        "state_service_audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("detail", JSONB(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["state_services.id"],
            name=op.f("fk_state_service_audit_service_id_state_services"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_service_audit")),
    )
    op.create_index(
        op.f("ix_state_service_audit_service_id"),
        "state_service_audit",
        ["service_id"],
        unique=False,
    )
    op.create_table(
        "state_service_versions",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("standard", JSONB(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["state_services.id"],
            name=op.f("fk_state_service_versions_service_id_state_services"),
        ),
        sa.PrimaryKeyConstraint("service_id", "version", name=op.f("pk_state_service_versions")),
    )


def downgrade() -> None:
    op.drop_table("state_service_versions")
    op.drop_index(op.f("ix_state_service_audit_service_id"), table_name="state_service_audit")
    op.drop_table("state_service_audit")
    op.drop_index(op.f("ix_state_services_agency_id"), table_name="state_services")
    op.drop_table("state_services")
    op.drop_table("agencies")
