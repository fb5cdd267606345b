"""The soak's child processes: started, waited for, killed and restarted by the faults."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.soak.config import READY_WITHIN


@dataclass
class Proc:
    """One child process; `ready` is its /readyz URL, or a line its log prints when up."""

    name: str
    args: list[str]
    env: dict[str, str]
    folder: Path
    ready_url: str | None = None
    ready_mark: str | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}.log"

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def wait_ready(self) -> None:
        async with asyncio.timeout(READY_WITHIN):
            while True:
                if not self.alive():
                    raise RuntimeError(f"{self.name} exited; see {self.log}")
                if await self._ready():
                    return
                await asyncio.sleep(0.2)

    async def _ready(self) -> bool:
        if self.ready_url is not None:
            try:
                async with httpx.AsyncClient(timeout=2.0) as client:
                    return (await client.get(self.ready_url)).status_code == 200
            except httpx.HTTPError:
                return False
        mark = self.ready_mark or ""
        return self.log.read_text(errors="replace").count(mark) >= self.starts

    def kill(self) -> None:
        if self.process is not None and self.alive():
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
