"""Submissions while the database drops the service's connections mid-statement."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import TYPE_CHECKING

import asyncpg
import httpx

from portal_shared.db import asyncpg_dsn
from service_requests.settings import RequestsSettings

if TYPE_CHECKING:
    from tests.conftest import Parties

TERMINATE = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
    AND application_name NOT LIKE 'portal-test%'
"""


async def test_dropped_connections_give_503_never_500_and_recover(
    client: httpx.AsyncClient, parties: Parties, settings: RequestsSettings
) -> None:
    admin = await asyncpg.connect(
        asyncpg_dsn(settings.database_url), server_settings={"application_name": "portal-test"}
    )
    answers: Counter[int] = Counter()
    stop = asyncio.Event()
    body = {"service_id": str(parties.service_id), "form_data": parties.good_form}

    async def submitter() -> None:
        while not stop.is_set():
            headers = {**parties.resident(), "Idempotency-Key": uuid.uuid4().hex}
            answer = await client.post("/api/v1/requests", json=body, headers=headers)
            answers[answer.status_code] += 1
            if answer.status_code >= 500:
                assert answer.headers["content-type"] == "application/problem+json"

    async def terminator() -> None:
        # Every 50 ms, cut every connection of the service, busy or idle.
        for _ in range(30):
            await admin.fetchval(TERMINATE)
            await asyncio.sleep(0.05)
        stop.set()

    try:
        await asyncio.gather(*(submitter() for _ in range(8)), terminator())
    finally:
        await admin.close()
    assert set(answers) <= {201, 503}, answers
    assert answers[201] > 0
    # Once the database keeps its connections, every submission goes through again.
    after = [await parties.submit() for _ in range(20)]
    assert len({r["number"] for r in after}) == 20
