"""Requests, their history, idempotency keys, yearly number counters, and the local
copies of agencies and state services.

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

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("timezone", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agencies"),
    )
    op.create_table(
        "offerings",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("agency_id", sa.Uuid, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("published_version", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_offerings"),
    )
    op.create_table(
        "offering_versions",
        sa.Column("service_id", sa.Uuid, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("agency_id", sa.Uuid, nullable=False),
        sa.Column("code", sa.String, nullable=False),
        sa.Column("term_working_days", sa.Integer, nullable=False),
        sa.Column("refusal_grounds", JSONB, nullable=False),
        sa.Column("form_schema", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("service_id", "version", name="pk_offering_versions"),
    )
    op.create_table(
        "requests",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("number", sa.String, nullable=False),
        sa.Column("service_id", sa.Uuid, nullable=False),
        sa.Column("service_version", sa.Integer, nullable=False),
        sa.Column("agency_id", sa.Uuid, nullable=False),
        sa.Column("applicant_id", sa.Uuid, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("form_data", JSONB, nullable=False),
        sa.Column("submitted_at", TZ, nullable=False),
        sa.Column("timezone", sa.String, nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("overdue_at", TZ, nullable=True),
        sa.Column("reason_code", sa.String, nullable=True),
        sa.Column("result", sa.String, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_requests"),
        sa.UniqueConstraint("number", name="uq_requests_number"),
    )
    op.create_index("ix_requests_agency_submitted", "requests", ["agency_id", "submitted_at", "id"])
    op.create_index(
        "ix_requests_applicant_submitted", "requests", ["applicant_id", "submitted_at", "id"]
    )
    op.create_index("ix_requests_updated", "requests", ["updated_at", "id"])
    op.create_index(
        "ix_requests_overdue_candidates",
        "requests",
        ["due_date"],
        postgresql_where=sa.text(
            "overdue_at IS NULL AND status IN ('submitted', 'in_review', 'needs_info', 'approved')"
        ),
    )
    op.create_table(
        "request_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("request_id", sa.Uuid, nullable=False),
        sa.Column("action", sa.String, nullable=False),
        sa.Column("from_status", sa.String, nullable=True),
        sa.Column("to_status", sa.String, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("actor_id", sa.String, nullable=False),
        sa.Column("actor_role", sa.String, nullable=False),
        sa.Column("comment", sa.String, nullable=True),
        sa.Column("reason_code", sa.String, nullable=True),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_request_history"),
    )
    op.create_index("ix_request_history_request_id", "request_history", ["request_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("applicant_id", sa.Uuid, nullable=False),
        sa.Column("key", sa.String, nullable=False),
        sa.Column("body_hash", sa.String, nullable=False),
        sa.Column("request_id", sa.Uuid, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("applicant_id", "key", name="pk_idempotency_keys"),
    )
    op.create_table(
        "request_numbers",
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("last", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("year", name="pk_request_numbers"),
    )


def downgrade() -> None:
    op.drop_table("request_numbers")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_request_history_request_id", table_name="request_history")
    op.drop_table("request_history")
    op.drop_table("requests")
    op.drop_table("offering_versions")
    op.drop_table("offerings")
    op.drop_table("agencies")
