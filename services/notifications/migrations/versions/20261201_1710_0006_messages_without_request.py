"""An inbox message may be about no application: the one telling a webhook subscription's
owner that the portal disabled it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 17:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("notifications", "request_id", existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    # The messages about no application (and their emails) cannot exist before this.
    for table in ("held_emails", "emails"):
        op.execute(
            f"DELETE FROM {table} WHERE notification_id IN "  # noqa: S608 (two fixed names)
            "(SELECT id FROM notifications WHERE request_id IS NULL)"
        )
    op.execute("DELETE FROM notifications WHERE request_id IS NULL")
    op.alter_column("notifications", "request_id", existing_type=sa.Uuid(), nullable=False)
