"""`python -m catalog seed-demo`: create and publish the demo services, idempotently.

The agencies come from the directory over Kafka, so the seed first waits
(bounded by `SEED_WAIT_SECONDS`) until the ones it needs are in the local copy;
it then seeds every service whose agency is there and fails loudly, naming the
agencies, if some never arrived.
"""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from catalog import service
from catalog.demo import demo_services
from catalog.models import Agency, StateService

log = structlog.get_logger(__name__)
ACTOR = "seed-demo"


class AgenciesMissing(RuntimeError):
    """Some demo agencies never reached the local copy within the wait."""


async def _active_agencies(maker: async_sessionmaker[AsyncSession]) -> set[UUID]:
    wanted = {s.body.agency_id for s in demo_services()}
    async with maker() as session:
        rows = await session.scalars(
            select(col(Agency.id)).where(col(Agency.id).in_(wanted), col(Agency.status) == "active")
        )
        return set(rows.all())


async def seed(maker: async_sessionmaker[AsyncSession], *, wait_seconds: float) -> int:
    """Seed what is missing; returns how many services were created and published."""
    needed = {s.body.agency_id for s in demo_services()}
    deadline = time.monotonic() + wait_seconds
    present = await _active_agencies(maker)
    while present != needed and time.monotonic() < deadline:
        await asyncio.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        present = await _active_agencies(maker)
    created = 0
    for spec in demo_services():
        body = spec.body
        if body.agency_id not in present:
            continue
        async with maker() as session, session.begin():
            exists = await session.get(StateService, service.service_id_for(body.code))
            if exists is not None:
                continue
            draft = await service.create_service(session, body, by=ACTOR)
            await service.publish(session, draft.id, by=ACTOR)
        created += 1
    log.info("demo_services_seeded", created=created)
    missing = sorted({s.agency_code for s in demo_services() if s.body.agency_id not in present})
    if missing:
        raise AgenciesMissing(
            f"after {wait_seconds:.0f}s these agencies are still not active in the catalog's "
            f"copy of the directory: {', '.join(missing)}; is the directory seeded and the "
            "catalog's consumer running?"
        )
    return created
