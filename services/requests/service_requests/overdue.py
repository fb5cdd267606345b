"""The periodic overdue check, run as a background worker of the service process.

Every replica runs it; `service.mark_overdue` makes that safe (each request is
marked and announced once). A failed round is logged and retried next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


async def overdue_worker(app: FastAPI, stop: asyncio.Event) -> None:
    settings: RequestsSettings = app.state.settings
    while not stop.is_set():
        try:
            marked = await check_overdue(app.state.sessionmaker, batch=settings.overdue_batch_size)
            if marked:
                log.info("requests_marked_overdue", count=marked)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database is away: try again next round
            log.warning("overdue_check_failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.overdue_check_interval_seconds)
