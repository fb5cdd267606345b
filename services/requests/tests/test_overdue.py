"""The overdue check: requests past their due date and unfinished are marked once, announced
once, and officers can list them first.

Due dates lie days ahead, so these tests move a request's due date into the past in the
database (the one shortcut here: time travel), then let the real worker find it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from service_requests.overdue import check_overdue

if TYPE_CHECKING:
    from tests.conftest import Parties


async def due_days_ago(app: FastAPI, request_id: str, days: int) -> None:
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE requests SET due_date = :due WHERE id = :id"),
            {"due": datetime.now(UTC).date() - timedelta(days=days), "id": request_id},
        )


async def count(app: FastAPI, sql: str, request_id: str) -> int:
    async with app.state.engine.connect() as conn:
        return int((await conn.execute(text(sql), {"id": request_id})).scalar_one())


async def test_the_worker_marks_a_late_request_once_and_announces_it(
    client: httpx.AsyncClient, parties: Parties, app: FastAPI
) -> None:
    late = await parties.submit()
    on_time = await parties.submit()
    finished = await parties.submit()
    await parties.act(finished["id"], parties.resident(), "cancel")
    await due_days_ago(app, late["id"], 2)
    await due_days_ago(app, finished["id"], 2)

    async with asyncio.timeout(30):
        while True:
            read = (
                await client.get(f"/api/v1/requests/{late['id']}", headers=parties.officer())
            ).json()
            if read["overdue"]:
                break
            await asyncio.sleep(0.1)
    assert read["overdue_at"] is not None
    assert read["status"] == "submitted"
    assert read["version"] == 2

    # Several more rounds of the worker, and a second checker as another replica would run.
    await asyncio.sleep(1.0)
    assert await check_overdue(app.state.sessionmaker, batch=10) == 0
    overdue_events = (
        "SELECT count(*) FROM outbox WHERE key = :id AND type = 'requests.request.overdue.v1'"
    )
    assert await count(app, overdue_events, late["id"]) == 1
    assert await count(app, overdue_events, finished["id"]) == 0
    assert await count(app, overdue_events, on_time["id"]) == 0
    history = (
        await client.get(f"/api/v1/requests/{late['id']}/history", headers=parties.resident())
    ).json()["items"]
    assert [h["action"] for h in history] == ["submit", "overdue"]
    assert history[-1]["actor_role"] == "system"

    listed = await client.get("/api/v1/requests?overdue=true", headers=parties.officer())
    assert [i["id"] for i in listed.json()["items"]] == [late["id"]]
    first = await client.get("/api/v1/requests?order=overdue_first", headers=parties.officer())
    assert first.json()["items"][0]["id"] == late["id"]


async def test_concurrent_checkers_mark_each_request_once(
    client: httpx.AsyncClient, parties: Parties, app: FastAPI
) -> None:
    made = [await parties.submit() for _ in range(6)]
    async with app.state.engine.begin() as conn:
        # A direct UPDATE of all six at once, so the background worker cannot take
        # some before the two checkers below race for them.
        await conn.execute(
            text("UPDATE requests SET due_date = :due"),
            {"due": datetime.now(UTC).date() - timedelta(days=3)},
        )
    results = await asyncio.gather(
        check_overdue(app.state.sessionmaker, batch=2),
        check_overdue(app.state.sessionmaker, batch=2),
    )
    # The background worker may take some of them too; between all three, each once.
    assert sum(results) <= 6
    async with asyncio.timeout(30):
        while True:
            page = await client.get("/api/v1/requests?overdue=true", headers=parties.officer())
            if len(page.json()["items"]) == 6:
                break
            await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # let the worker run again: it must find nothing more
    for request in made:
        events = await count(
            app,
            "SELECT count(*) FROM outbox WHERE key = :id AND type = 'requests.request.overdue.v1'",
            request["id"],
        )
        marks = await count(
            app,
            "SELECT count(*) FROM request_history WHERE request_id = :id AND action = 'overdue'",
            request["id"],
        )
        assert (events, marks) == (1, 1)
