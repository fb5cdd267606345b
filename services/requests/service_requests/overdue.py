"""The periodic overdue check, run as a background worker of the service process.

Every replica runs it; `service.mark_overdue` makes that safe (each request is
marked and announced once). A failed round is logged and retried next interval.
Each round also sets the metrics the overdue alerts read (deploy/k8s/base/monitoring.yaml).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
import structlog
from fastapi import FastAPI
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from portal_shared.app import periodic
from service_requests.models import ServiceRequest
from service_requests.service import mark_overdue
from service_requests.settings import RequestsSettings
from service_requests.workflow import OPEN_STATUSES

log = structlog.get_logger(__name__)

MARKED_OVERDUE = Counter(
    "portal_requests_marked_overdue_total", "Requests the overdue check marked overdue"
)
# Every replica counts the same table; the alert takes the max.
OVERDUE_OPEN = Gauge(
    "portal_requests_overdue_open", "Open requests past their due date, as of the last check"
)


async def check_overdue(maker: async_sessionmaker[AsyncSession], *, batch: int) -> int:
    """Mark every request overdue now, batch by batch (each batch its own transaction)."""
    total = 0
    while True:
        async with maker() as session, session.begin():
            marked = await mark_overdue(session, as_of=datetime.now(UTC), batch=batch)
        total += marked
        if marked < batch:
            return total


async def count_overdue_open(maker: async_sessionmaker[AsyncSession]) -> int:
    r = ServiceRequest
    query = sa.select(sa.func.count()).where(
        col(r.overdue_at).is_not(None), col(r.status).in_([s.value for s in OPEN_STATUSES])
    )
    async with maker() as session:
        return int((await session.execute(query)).scalar_one())


async def _check(app: FastAPI) -> None:
    settings: RequestsSettings = app.state.settings
    marked = await check_overdue(app.state.sessionmaker, batch=settings.overdue_batch_size)
    MARKED_OVERDUE.inc(marked)
    if marked:
        log.info("requests_marked_overdue", count=marked)
    OVERDUE_OPEN.set(await count_overdue_open(app.state.sessionmaker))


overdue_worker = periodic(
    "overdue_check",
    _check,
    lambda app: float(app.state.settings.overdue_check_interval_seconds),
)
