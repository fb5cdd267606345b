"""Indexes for the listings that had none: everything newest first (administrators), and
one status within an agency (officers' queues), found by the list-latency benchmark to
scan the whole table or the whole agency at 1,000,000 requests.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_requests_submitted", "requests", ["submitted_at", "id"])
    op.create_index(
        "ix_requests_agency_status_submitted",
        "requests",
        ["agency_id", "status", "submitted_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_requests_agency_status_submitted", table_name="requests")
    op.drop_index("ix_requests_submitted", table_name="requests")
