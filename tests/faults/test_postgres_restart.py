"""PostgreSQL restarted under load: a clear 503 problem+json while it is away, full recovery after.

The directory serves a steady mix of registrations and reads from a PostgreSQL
server of this test's own, which is stopped in the middle and started again.
Nothing may answer 500 or hang; every refusal says what is wrong; once the
server is back every request succeeds again, and every registration that was
accepted is there.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from portal_embedded.broker import EmbeddedBroker, free_port
from portal_embedded.postgres import EmbeddedPostgres
from portal_testing.portal import server_folder
from portal_testing.service import TestIssuer
from tests.faults.harness import PortalFactory, count, eventually, provision
from tests.faults.test_sigkill import registration

CLIENTS = 8
ENGLISH = {"Accept-Language": "en"}


async def _settled(outcomes: list[Outcome], phase: str) -> bool:
    return sum(o.phase == phase for o in outcomes) > 10


# Longer than any answer may take: a request still open after this counts as a hang.
HANG = 15.0


@dataclass
class Outcome:
    phase: str
    method: str
    status: int
    content_type: str
    detail: str
    code: str | None


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    with server_folder("portal-restart-") as folder:
        server = EmbeddedPostgres(folder / "pg", free_port(), fsync=False)
        server.start()
        yield server
        log = server.data_dir / "server.log"
        if log.exists():  # shown when the test failed
            print("--- postgres ---\n" + "\n".join(log.read_text().splitlines()[-30:]))
        server.destroy()


async def test_database_restart_gives_503_problems_then_recovers(
    broker: EmbeddedBroker,
    own_postgres: EmbeddedPostgres,
    portals: PortalFactory,
    fault_issuer: TestIssuer,
) -> None:
    portal = portals(broker.bootstrap_servers, postgres=own_postgres.url)
    await provision(portal.bootstrap)
    await portal.migrate("directory")
    directory = await portal.start("directory", "serve")
    admin = fault_issuer.headers(roles=["admin"], ttl=600)
    phase = "before"
    outcomes: list[Outcome] = []
    hangs: list[str] = []
    numbers = itertools.count()
    stop = asyncio.Event()

    async def client_loop(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            i = next(numbers)
            seen = phase
            code = None
            try:
                if i % 2:
                    code = str(registration(i)["code"])
                    response = await client.post(
                        "/api/v1/agencies", json=registration(i), headers=admin
                    )
                else:
                    response = await client.get("/api/v1/agencies?limit=20")
            except httpx.TimeoutException:
                hangs.append(f"request {i} in phase {seen}")
                continue
            body = response.json() if response.content else {}
            # A request in flight when the server stopped (or came back) may go either way.
            outcomes.append(
                Outcome(
                    seen if seen == phase else "transition",
                    response.request.method,
                    response.status_code,
                    response.headers.get("content-type", ""),
                    str(body.get("detail", "")) if isinstance(body, dict) else "",
                    code,
                )
            )
            await asyncio.sleep(0.01)

    async def port_closed() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", own_postgres.port)
        except OSError:
            return True
        writer.close()
        return False

    async def succeeds() -> bool:
        response = await probe.get("/api/v1/agencies?limit=1")
        return response.status_code == 200

    async with (
        # English details: the refusals are checked for the word "database" below.
        httpx.AsyncClient(base_url=directory.base_url, timeout=HANG, headers=ENGLISH) as client,
        httpx.AsyncClient(base_url=directory.base_url, timeout=HANG, headers=ENGLISH) as probe,
    ):
        load = [asyncio.create_task(client_loop(client)) for _ in range(CLIENTS)]
        try:
            # Enough answers before the outage to compare with, however busy the machine.
            await eventually(
                lambda: _settled(outcomes, "before"), within=60, what="answers before the outage"
            )
            phase = "down"
            await asyncio.to_thread(own_postgres.stop)
            await eventually(port_closed, within=30, what="PostgreSQL has stopped")

            async def not_ready() -> bool:
                ready = await probe.get("/readyz")
                return ready.status_code == 503 and "database" in ready.json()["detail"]

            await eventually(not_ready, within=10, what="readiness reports the database")
            await asyncio.sleep(1.5)
            phase = "restarting"
            await asyncio.to_thread(own_postgres.start)
            await eventually(succeeds, within=30, what="the directory answers again")
            phase = "after"
            await asyncio.sleep(1.5)
        finally:
            stop.set()
            await asyncio.gather(*load)
        assert (await probe.get("/readyz")).status_code == 200

    assert hangs == []
    by_phase = {p: [o for o in outcomes if o.phase == p] for p in ("before", "down", "after")}
    assert all(len(v) > 10 for v in by_phase.values()), {k: len(v) for k, v in by_phase.items()}
    assert {o.status for o in outcomes} <= {200, 201, 503}, "no 500s, no other errors"
    refusals = [o for o in outcomes if o.status == 503]
    assert len(refusals) >= 10, "the outage is reported, not hidden"
    assert {o.method for o in refusals} == {"GET", "POST"}
    for refusal in refusals:
        assert refusal.content_type == "application/problem+json"
        assert "database" in refusal.detail
    failed = [o for o in by_phase["before"] + by_phase["after"] if o.status not in (200, 201)]
    assert failed == []

    accepted = {o.code for o in outcomes if o.status == 201}
    stored = await count(
        portal.database_url("directory"),
        "SELECT count(*) FROM agencies WHERE code = ANY($1::text[])",
        sorted(c for c in accepted if c),
    )
    assert stored == len(accepted), "every accepted registration survived the restart"
