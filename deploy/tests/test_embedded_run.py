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
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from portal_embedded.broker import free_port

pytestmark = pytest.mark.slow

SERVICES = ("identity", "directory", "catalog", "requests")
# Bounds for a loaded 2-core machine; the runner itself waits at most 60 s for readiness.
START_WITHIN = 180.0
STOP_WITHIN = 60.0


def distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


@dataclass
class RunnerProcess:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    banner_seen: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None

    def wait(self, within: float) -> int:
        code = self.process.wait(within)
        if self.reader is not None:
            self.reader.join(10)
        return code

    def output(self) -> str:
        return "".join(self.lines)

    def read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self.lines.append(line)
                if "The Baikonur portal is running" in line:
                    self.banner_seen.set()
        # Unblock a waiter if the runner gave up before printing the banner.
        self.banner_seen.set()


@dataclass
class Portal:
    data_dir: Path
    env: dict[str, str]

    @property
    def marker(self) -> bytes:
        return f"PORTAL_DATA_DIR={self.data_dir}".encode()

    def port(self, name: str) -> int:
        return int(self.env[f"PORTAL_{name.upper()}_PORT"])

    def start(self) -> RunnerProcess:
        process = subprocess.Popen(
            [sys.executable, "-m", "portal_embedded", "run"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        runner = RunnerProcess(process)
        runner.reader = threading.Thread(target=runner.read, daemon=True)
        runner.reader.start()
        return runner

    def start_ready(self) -> RunnerProcess:
        runner = self.start()
        runner.banner_seen.wait(START_WITHIN)
        if runner.process.poll() is not None or not any(
            "The Baikonur portal is running" in line for line in runner.lines
        ):
            self.stop(runner)
            pytest.fail("the runner did not come up:\n" + runner.output()[-6000:])
        return runner

    def stop(self, runner: RunnerProcess) -> int:
        if runner.process.poll() is None:
            runner.process.send_signal(signal.SIGINT)
        try:
            return runner.wait(STOP_WITHIN)
        except subprocess.TimeoutExpired:
            runner.process.kill()
            raise

    def processes(self) -> dict[int, str]:
        """pid -> command line of every live process this portal started."""
        found: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes()
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z" and self.marker in environ.split(b"\0"):
                found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
        return found

    def pid_of(self, needle: str) -> int:
        matches = [pid for pid, cmd in self.processes().items() if needle in cmd]
        assert len(matches) == 1, f"expected one process running {needle!r}: {self.processes()}"
        return matches[0]


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    names = ["PG", "KAFKA", "GATEWAY", *(s.upper() for s in SERVICES)]
    env = dict(os.environ)
    env.update(
        {f"PORTAL_{n}_PORT": str(p) for n, p in zip(names, distinct_free_ports(7), strict=True)}
    )
    env.update({"PORTAL_DATA_DIR": str(tmp_path / "data"), "PORTAL_STOP_GRACE": "10"})
    portal = Portal(tmp_path / "data", env)
    yield portal
    # A failed test must not leave a portal running on this shared machine.
    for pid in portal.processes():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


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
