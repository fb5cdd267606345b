"""`make run` end to end: the runner brings the portal up, Ctrl-C leaves nothing behind,
a second run keeps the data, a killed runner takes its children with it, a dying service
stops the run, and busy ports fail fast.

The runner is started as a real process with its own data folder and free ports,
so it never meets a developer's own `make run`. The processes it started are
found by the data folder in their environment (PostgreSQL is detached by pg_ctl,
so it is not a descendant of the runner).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator

import asyncpg
import httpx
import pytest

from portal_testing.portal import SERVICES, STOP_WITHIN, Portal, server_folder

pytestmark = pytest.mark.slow


@pytest.fixture
def portal() -> Iterator[Portal]:
    with server_folder("portal-run-") as folder:
        portal = Portal.on_free_ports(folder / "data")
        yield portal
        # A failed test must not leave a portal running on this shared machine.
        portal.kill_all()


def wait_until(condition: Callable[[], bool], within: float = 30.0) -> bool:
    """Poll a condition the kernel settles asynchronously (a process reaped after a signal)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def ready_services(portal: Portal) -> dict[str, int]:
    return {
        name: httpx.get(f"http://127.0.0.1:{portal.port(name)}/readyz", timeout=5).status_code
        for name in SERVICES
    }


async def leave_note(portal: Portal, note: str) -> None:
    conn = await asyncpg.connect(
        host="127.0.0.1", port=portal.port("pg"), user="postgres", database="directory"
    )
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS run_test_note (note text)")
        await conn.execute("INSERT INTO run_test_note VALUES ($1)", note)
    finally:
        await conn.close()


async def read_notes(portal: Portal) -> list[str]:
    conn = await asyncpg.connect(
        host="127.0.0.1", port=portal.port("pg"), user="postgres", database="directory"
    )
    try:
        return [row["note"] for row in await conn.fetch("SELECT note FROM run_test_note")]
    finally:
        await conn.close()


def test_run_starts_everything_and_ctrl_c_leaves_nothing(portal: Portal) -> None:
    runner = portal.start_ready()
    assert ready_services(portal) == dict.fromkeys(SERVICES, 200)
    output = runner.output()
    assert "admin / admin-demo-password" in output
    assert f"http://127.0.0.1:{portal.port('identity')}" in output
    started = portal.processes()
    # The broker, PostgreSQL and the four services, at least.
    assert any("broker" in cmd for cmd in started.values())
    assert any("postgres" in cmd for cmd in started.values())
    asyncio.run(leave_note(portal, "kept across runs"))

    assert portal.stop(runner) == 0, runner.output()[-3000:]
    assert portal.processes() == {}
    assert "stopped" in runner.lines[-1]

    # The second run finds the cluster of the first, with what was written to it.
    second = portal.start_ready()
    assert f"reusing PostgreSQL data in {portal.data_dir / 'postgres'}" in second.output()
    assert asyncio.run(read_notes(portal)) == ["kept across runs"]

    # A runner killed outright takes its children with it; only PostgreSQL, detached by
    # pg_ctl, stays behind, and the next run stops it and carries on.
    second.process.kill()
    second.wait(STOP_WITHIN)
    assert wait_until(lambda: all("postgres" in cmd for cmd in portal.processes().values()))

    third = portal.start_ready()
    assert "stopping a PostgreSQL left running by an earlier run" in third.output()
    # A service that dies on its own stops the whole run, with a non-zero exit.
    os.kill(portal.pid_of("catalog serve"), signal.SIGKILL)
    assert third.wait(STOP_WITHIN) == 1
    assert "catalog (pid" in third.output()
    assert "exited unexpectedly" in third.output()
    assert portal.processes() == {}


def test_busy_port_fails_fast_naming_the_variable(portal: Portal) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", portal.port("kafka")))
        squatter.listen()
        runner = portal.start()
        code = runner.wait(STOP_WITHIN)
    assert code == 2
    assert "PORTAL_KAFKA_PORT" in runner.output()
    assert not portal.data_dir.exists()
    assert portal.processes() == {}
