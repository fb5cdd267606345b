"""Real processes for tests that go through the gateway: start, wait for the port, stop.

The gateway's own tests and the end-to-end tests start the services and
gateways as real processes (as `make run` does), not in-process apps.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from portal_embedded.broker import wait_for_port

# connect(process, source="127.0.0.x") -> a client bound to that loopback address
Connect = Callable[..., httpx.AsyncClient]


@dataclass
class Process:
    name: str
    port: int
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


class Processes:
    """Starts processes with their output in a log folder; stops them all at the end."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="portal-gw-"))
        self.started: list[Process] = []

    def start(self, name: str, args: list[str], env: dict[str, str], port: int) -> Process:
        log = self.folder / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, *args],
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        process = Process(name, port, popen, log)
        self.started.append(process)
        try:
            wait_for_port("127.0.0.1", port, timeout=60)
        except OSError as exc:
            raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}") from exc
        return process

    def run(self, name: str, args: list[str], env: dict[str, str]) -> None:
        done = subprocess.run(
            [sys.executable, *args], env={**os.environ, **env}, capture_output=True, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed:\n{done.stdout[-2000:]!r}\n{done.stderr[-2000:]!r}")

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()
