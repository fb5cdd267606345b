"""Alembic environment of the identity database (see portal_shared.migrations)."""

from identity.models import Base
from portal_shared.migrations import run_env

run_env(Base.metadata)
