"""Test support for the whole embedded portal: `python -m portal_embedded run` as a real
process on free ports and its own data folder, so it never meets a developer's `make run`.

The processes it started are found by the data folder in their environment
(PostgreSQL is detached by pg_ctl, so it is not a descendant of the runner).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from portal_embedded.broker import free_port


@contextlib.contextmanager
def server_folder(prefix: str) -> Iterator[Path]:
    """A scratch folder for a PostgreSQL data directory, under the system temp folder.

    Not under pytest's `tmp_path`: pytest keeps its root (`/tmp/pytest-of-<user>`) private
    and makes it 0700 again whenever a pytest session starts, which cuts a server running
    as `portal-pg` (see postgres.py) off from its own files in the middle of a run.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


SERVICES = ("identity", "directory", "catalog", "requests", "notifications")
# Bounds for a loaded 2-core machine; the runner itself waits at most 60 s for readiness.
START_WITHIN = 300.0
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
        if self.process.stdout is None:
            raise RuntimeError("the runner was started without a stdout pipe")
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
            raise RuntimeError("the runner did not come up:\n" + runner.output()[-6000:])
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
        if len(matches) != 1:
            raise AssertionError(f"expected one process running {needle!r}: {self.processes()}")
        return matches[0]

    @classmethod
    def on_free_ports(cls, data_dir: Path) -> Portal:
        names = ["PG", "KAFKA", "GATEWAY", "SMTP", "CLAMD", *(s.upper() for s in SERVICES)]
        env = dict(os.environ)
        ports = distinct_free_ports(len(names))
        env.update({f"PORTAL_{n}_PORT": str(p) for n, p in zip(names, ports, strict=True)})
        env.update({"PORTAL_DATA_DIR": str(data_dir), "PORTAL_STOP_GRACE": "10"})
        return cls(data_dir, env)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def kill_all(self) -> None:
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
