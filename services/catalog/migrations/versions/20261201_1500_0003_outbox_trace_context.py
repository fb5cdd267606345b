"""The outbox keeps the trace context each event was made in (`portal_shared.tracing`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

from alembic import op

from portal_shared.migrations import add_outbox_trace_context, drop_outbox_trace_context

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_trace_context(op)


def downgrade() -> None:
    drop_outbox_trace_context(op)
