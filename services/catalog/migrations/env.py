"""Alembic environment of the catalog database (see portal_shared.migrations)."""

from catalog.models import Base
from portal_shared.migrations import run_env

run_env(Base.metadata)
