"""What the benchmarks share: embedded servers, a JWKS endpoint for test tokens, service
processes run as in production (uvicorn, uvloop), latency sampling and a ratio table."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from portal_embedded.broker import EmbeddedBroker, free_port
from portal_embedded.postgres import EmbeddedPostgres
from portal_shared.testing import TEST_ISSUER, TestIssuer


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Infra:
    postgres: EmbeddedPostgres
    broker: EmbeddedBroker
    folder: Path


@contextlib.contextmanager
def infra(*, fsync: bool = False) -> Iterator[Infra]:
    folder = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    postgres = EmbeddedPostgres(folder / "pg", free_port(), fsync=fsync)
    broker = EmbeddedBroker(free_port(), log_file=folder / "broker.log")
    postgres.start()
    broker.start()
    try:
        yield Infra(postgres, broker, folder)
    finally:
        broker.stop()
        postgres.destroy()


@contextlib.contextmanager
def jwks_server(issuer: TestIssuer) -> Iterator[str]:
    """Serve the issuer's JWKS over real HTTP; yields its URL."""
    body = json.dumps(issuer.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/auth/jwks"
    finally:
        server.shutdown()


@dataclass
class ServiceProcess:
    """`python -m <package> migrate` then `serve`, configured like production."""

    package: str
    database_url: str
    bootstrap: str
    jwks_url: str
    folder: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "JWKS_URL": self.jwks_url,
            "PUBLIC_URL": TEST_ISSUER.removesuffix("/auth"),
            "PORTAL_ENV": "test",
            "LOG_LEVEL": "WARNING",
            **self.extra_env,
        }

    def start(self) -> None:
        subprocess.run([sys.executable, "-m", self.package, "migrate"], env=self.env(), check=True)
        log = open(self.folder / f"{self.package}.log", "ab")  # noqa: SIM115 -- owned by the child
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.package, "serve"],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.package} did not become ready; see {log.name}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def ratio_table(title: str, columns: list[str], rows: list[tuple[str, list[float]]]) -> str:
    """Rows of measurements, each followed by its ratio to the first row (the baseline)."""
    base = rows[0][1]
    head = f"{'':<46}" + "".join(f"{c:>12}" for c in columns)
    head += "".join(f"{'ratio ' + c:>16}" for c in columns)
    lines = [title, head]
    for name, values in rows:
        line = f"{name:<46}" + "".join(f"{v:12.2f}" for v in values)
        line += "".join(
            f"{v / b:16.2f}" if b else f"{'-':>16}" for v, b in zip(values, base, strict=True)
        )
        lines.append(line)
    return "\n".join(lines)
