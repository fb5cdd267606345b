"""Alembic environment of the notifications database (see portal_shared.migrations)."""

from notifications.models import Base
from notifications.webhooks import models as webhooks_models  # noqa: F401 (its tables)
from portal_shared.migrations import run_env

run_env(Base.metadata)
