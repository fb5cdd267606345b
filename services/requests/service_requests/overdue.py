"""The periodic overdue check, run as a background worker of the service process.

Every replica runs it; `service.mark_overdue` makes that safe (each request is
marked and announced once). A failed round is logged and retried next interval.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal_shared.app import periodic
from service_requests.service import mark_overdue
from service_requests.settings import RequestsSettings

log = structlog.get_logger(__name__)


async def check_overdue(maker: async_sessionmaker[AsyncSession], *, batch: int) -> int:
    """Mark every request overdue now, batch by batch (each batch its own transaction)."""
    total = 0
    while True:
        async with maker() as session, session.begin():
            marked = await mark_overdue(session, as_of=datetime.now(UTC), batch=batch)
        total += marked
        if marked < batch:
            return total


async def _check(app: FastAPI) -> None:
    settings: RequestsSettings = app.state.settings
    marked = await check_overdue(app.state.sessionmaker, batch=settings.overdue_batch_size)
    if marked:
        log.info("requests_marked_overdue", count=marked)


overdue_worker = periodic(
    "overdue_check",
    _check,
    lambda app: float(app.state.settings.overdue_check_interval_seconds),
)
