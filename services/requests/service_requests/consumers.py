"""Local copies of agencies and state services, kept from directory and catalog events.

Each copy applies an event only if its version is newer than what is held, so
replays and redeliveries change nothing. Every published version of a state
service is kept, because requests pin the version they were submitted under.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from portal_shared.app import ConsumerSpec
from portal_shared.events import CloudEvent
from service_requests.calendar import zone
from service_requests.models import Agency, Offering, OfferingVersion
from service_requests.schemas import AgencyData, PublishedServiceData

CATALOG_TOPIC = "catalog.service"
DIRECTORY_TOPIC = "directory.agency"


async def apply_service(session: AsyncSession, event: CloudEvent) -> None:
    data = PublishedServiceData.model_validate(event.data)
    if data.status == "published":
        # A broken schema would fail every submission later; refuse it here, where it
        # goes to the dead-letter topic with the reason.
        Draft202012Validator.check_schema(data.form_schema)
    current = await session.get(Offering, data.id, with_for_update=True)
    if current is not None and data.version < current.version:
        return
    if current is not None and data.version == current.version:
        # Same version: only a withdrawal may still change it (it may not bump the version).
        if data.status == "withdrawn" and current.status != "withdrawn":
            current.status = "withdrawn"
        return
    if data.status == "published":
        await session.execute(
            insert(OfferingVersion)
            .values(
                service_id=data.id,
                version=data.version,
                agency_id=data.agency_id,
                code=data.code,
                term_working_days=data.term_working_days,
                refusal_grounds=[g.model_dump(mode="json") for g in data.refusal_grounds],
                form_schema=data.form_schema,
                required_documents=[
                    d.model_dump(mode="json", exclude_none=True) for d in data.required_documents
                ],
            )
            .on_conflict_do_nothing()
        )
    if current is None:
        session.add(
            Offering(
                id=data.id,
                agency_id=data.agency_id,
                status=data.status,
                version=data.version,
                published_version=data.version if data.status == "published" else None,
            )
        )
        return
    current.agency_id = data.agency_id
    current.status = data.status
    current.version = data.version
    if data.status == "published":
        current.published_version = data.version


async def apply_agency(session: AsyncSession, event: CloudEvent) -> None:
    data = AgencyData.model_validate(event.data)
    if zone(data.timezone).key != data.timezone:
        raise ValueError(f"unknown time zone {data.timezone!r}")
    values: dict[str, Any] = {
        "id": data.id,
        "timezone": data.timezone,
        "status": data.status,
        "version": data.version,
    }
    statement = insert(Agency).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["id"],
            set_={k: statement.excluded[k] for k in ("timezone", "status", "version")},
            where=col(Agency.version) < statement.excluded.version,
        )
    )


CONSUMERS = [
    ConsumerSpec(
        group_id="requests.catalog.service",
        topics=[CATALOG_TOPIC],
        handlers={
            f"{CATALOG_TOPIC}.{name}.v1": apply_service
            for name in ("published", "updated", "withdrawn")
        },
    ),
    ConsumerSpec(
        group_id="requests.directory.agency",
        topics=[DIRECTORY_TOPIC],
        handlers={
            f"{DIRECTORY_TOPIC}.{name}.v1": apply_agency
            for name in ("registered", "updated", "deactivated")
        },
    ),
]
