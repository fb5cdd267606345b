"""Alembic environment of the requests database (see portal_shared.migrations)."""

from portal_shared.migrations import run_env
from service_requests.models import Base

run_env(Base.metadata)
