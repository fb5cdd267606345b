"""The local copy of each published version keeps its `required_documents` (code and the
rules an attached document must meet), so a submission checks its documents without
asking the catalog. Versions copied before this revision required nothing here.

Revision ID: 0007
Revises: 0006 (the outbox trace context; both were numbered 0006, two heads)
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "offering_versions",
        sa.Column("required_documents", JSONB, nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    op.drop_column("offering_versions", "required_documents")
