"""Emails held until their person's account reaches the notifications service.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "held_emails",
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_held_emails_notification_id_notifications"),
        ),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_held_emails")),
        sa.UniqueConstraint("message_id", name=op.f("uq_held_emails_message_id")),
    )
    op.create_index(op.f("ix_held_emails_account_id"), "held_emails", ["account_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_held_emails_account_id"), table_name="held_emails")
    op.drop_table("held_emails")
