"""Alembic environment of the notifications database (see portal_shared.migrations)."""

from notifications.models import Base
from portal_shared.migrations import run_env

run_env(Base.metadata)
