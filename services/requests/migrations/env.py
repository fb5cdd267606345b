"""Alembic environment of the requests database (see portal_shared.migrations)."""

import service_requests.documents.models  # noqa: F401 - registers the documents tables on Base
from portal_shared.migrations import run_env
from service_requests.models import Base

run_env(Base.metadata)
