"""The alembic migrations build exactly the tables the models describe (no drift that a
later autogenerate would turn into a surprise migration)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy.engine import Connection

import service_requests.documents.models  # noqa: F401 - registers the documents tables on Base
from service_requests.models import Base


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_name": lambda name, type_, _: (
                not (type_ == "table" and name in ("outbox", "processed_events", "alembic_version"))
            ),
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(app: FastAPI) -> None:
    async with app.state.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
