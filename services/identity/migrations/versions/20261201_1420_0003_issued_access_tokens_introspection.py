"""Access tokens issued to a grant (so revoking the grant revokes them too), and the
clients allowed to introspect any token.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "issued_access_tokens",
        sa.Column("jti", sa.String(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(), nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_issued_access_tokens")),
    )
    op.create_index(
        op.f("ix_issued_access_tokens_family_id"), "issued_access_tokens", ["family_id"]
    )
    op.create_index(
        op.f("ix_issued_access_tokens_account_id"), "issued_access_tokens", ["account_id"]
    )
    op.add_column(
        "oauth_clients",
        sa.Column("introspection", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("oauth_clients", "introspection")
    op.drop_index(op.f("ix_issued_access_tokens_account_id"), table_name="issued_access_tokens")
    op.drop_index(op.f("ix_issued_access_tokens_family_id"), table_name="issued_access_tokens")
    op.drop_table("issued_access_tokens")
