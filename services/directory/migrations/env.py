"""Alembic environment of the directory database (see portal_shared.migrations)."""

from directory.models import Base
from portal_shared.migrations import run_env

run_env(Base.metadata)
