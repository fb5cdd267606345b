"""The overdue metrics on /metrics, as the alerts and the dashboard read them: how many open
requests are past their due date, and how many the check has marked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

if TYPE_CHECKING:
    from tests.conftest import Parties

OPEN_OVERDUE = (
    "SELECT count(*) FROM requests WHERE overdue_at IS NOT NULL"
    " AND status IN ('submitted', 'in_review', 'needs_info', 'approved')"
)


async def metrics(client: httpx.AsyncClient) -> dict[str, float]:
    body = (await client.get("/metrics")).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name.startswith("portal_requests_")
    }


async def open_overdue(app: FastAPI) -> int:
    async with app.state.engine.connect() as conn:
        return int((await conn.execute(text(OPEN_OVERDUE))).scalar_one())


async def until_reported(client: httpx.AsyncClient, app: FastAPI) -> dict[str, float]:
    """The metrics once the overdue check has reported the table as it is now."""
    async with asyncio.timeout(30):
        while True:
            seen = await metrics(client)
            if seen.get("portal_requests_overdue_open") == await open_overdue(app):
                return seen
            await asyncio.sleep(0.1)


async def test_overdue_requests_are_counted_until_they_are_decided(
    client: httpx.AsyncClient, parties: Parties, app: FastAPI
) -> None:
    late = await parties.submit()
    before = await until_reported(client, app)
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE requests SET due_date = :due WHERE id = :id"),
            {"due": datetime.now(UTC).date() - timedelta(days=2), "id": late["id"]},
        )
    async with asyncio.timeout(30):
        while (await metrics(client)).get("portal_requests_overdue_open", 0) <= before.get(
            "portal_requests_overdue_open", 0
        ):
            await asyncio.sleep(0.1)
    marked = await until_reported(client, app)
    assert marked["portal_requests_overdue_open"] == before["portal_requests_overdue_open"] + 1
    assert (
        marked["portal_requests_marked_overdue_total"]
        >= before["portal_requests_marked_overdue_total"] + 1
    )

    # Cancelled, it is no longer open: the next check counts one fewer.
    await parties.act(late["id"], parties.resident(), "cancel")
    async with asyncio.timeout(30):
        while (await metrics(client))["portal_requests_overdue_open"] != before[
            "portal_requests_overdue_open"
        ]:
            await asyncio.sleep(0.1)
