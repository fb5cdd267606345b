"""`make run`: the whole portal on this machine, with embedded PostgreSQL and Kafka.

The order is: check the ports, start PostgreSQL (data kept under `.data/`) and
the Tansu broker, create the contract's topics, migrate each service's
database, start the four services and the gateway, wait until they are ready,
load the demo data, then print where everything is. Ctrl-C or SIGTERM stops the
services, then the broker, then PostgreSQL; a child that dies on its own stops
the whole run with a non-zero exit.

Every port and the data folder come from environment variables, so a test (or
a machine where 9092 is taken) can run it side by side with another copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from portal_embedded.broker import EmbeddedBroker, wait_for_port
from portal_embedded.clamd import DEBIAN_PACKAGE, EmbeddedClamd, clamd_bin
from portal_embedded.mail import MailSink
from portal_embedded.postgres import EmbeddedPostgres
from portal_embedded.processes import GATEWAY, SERVICES, PortalProcess
from portal_embedded.supervisor import Child, ChildFailed, Supervisor, say
from portal_shared.events.topics import CONTRACT_TOPICS, ensure_topics, with_dead_letters
from portal_shared.logging import configure_logging

# The same count as ServiceSettings.kafka_partitions' default, so the services'
# own provisioning at start-up finds the topics as it would have made them.
TOPIC_PARTITIONS = 6
# The demo origin, as in CONTRACT.md; browsers and the issuer use `localhost`.
PUBLIC_HOST = "localhost"
LOOPBACK = "127.0.0.1"


# Directory first: the identity and catalog seeds wait for its agencies over Kafka; those
# two then run side by side (they share nothing), a step at a time.
SEED_ORDER = (("directory",), ("identity", "catalog"))

DEMO_CREDENTIALS = (
    ("admin account", "admin / admin-demo-password"),
    ("demo officer", "officer-migration / officer-demo-password (agency BKR-MIGRATION)"),
    ("public web client", "portal-web (PKCE S256, no secret)"),
    ("agency system client", "agency-demo / agency-demo-secret (client_credentials)"),
)


class ConfigurationError(RuntimeError):
    """The environment asks for something the runner cannot do (a bad or busy port)."""


def _project_root() -> Path:
    # deploy/embedded/portal_embedded/run.py -> the repository root (editable install).
    root = Path(__file__).resolve().parents[3]
    return root if (root / "Makefile").exists() else Path.cwd()


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise ConfigurationError(f"{name}={value} is outside 1-65535")
    return value


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number of seconds") from None


@dataclass(frozen=True)
class RunConfig:
    data_dir: Path
    postgres_port: int
    kafka_port: int
    gateway_port: int
    # clamd (malware scanning of uploads), when it is installed.
    clamd_port: int
    service_ports: Mapping[str, int]
    # The local SMTP sink that the notifications service sends to.
    smtp_port: int
    ready_timeout: float
    seed_timeout: float
    stop_grace: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RunConfig:
        data = environ.get("PORTAL_DATA_DIR") or str(_project_root() / ".data")
        return cls(
            data_dir=Path(data).resolve(),
            postgres_port=_port(environ, "PORTAL_PG_PORT", 55432),
            kafka_port=_port(environ, "PORTAL_KAFKA_PORT", 9092),
            gateway_port=_port(environ, GATEWAY.port_env, GATEWAY.default_port),
            clamd_port=_port(environ, "PORTAL_CLAMD_PORT", 3311),
            service_ports={s.name: _port(environ, s.port_env, s.default_port) for s in SERVICES},
            smtp_port=_port(environ, "PORTAL_SMTP_PORT", 8025),
            ready_timeout=_seconds(environ, "PORTAL_READY_TIMEOUT", 60),
            seed_timeout=_seconds(environ, "PORTAL_SEED_TIMEOUT", 120),
            stop_grace=_seconds(environ, "PORTAL_STOP_GRACE", 15),
        )

    def ports(self) -> dict[str, int]:
        """Environment variable -> port, for every listener the run opens."""
        ports = {
            "PORTAL_PG_PORT": self.postgres_port,
            "PORTAL_KAFKA_PORT": self.kafka_port,
            "PORTAL_SMTP_PORT": self.smtp_port,
            GATEWAY.port_env: self.gateway_port,
            "PORTAL_CLAMD_PORT": self.clamd_port,
        }
        ports.update({s.port_env: self.service_ports[s.name] for s in SERVICES})
        return ports

    @property
    def public_url(self) -> str:
        return f"http://{PUBLIC_HOST}:{self.gateway_port}"

    def service_url(self, name: str) -> str:
        return f"http://{LOOPBACK}:{self.service_ports[name]}"


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        # Same option as uvicorn and PostgreSQL, so a socket in TIME_WAIT left by
        # the previous run does not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return True
    with socket.socket() as probe:
        probe.settimeout(0.3)
        return probe.connect_ex((LOOPBACK, port)) == 0


def check_ports(config: RunConfig) -> None:
    """Fail before starting anything if two settings share a port or a port is taken."""
    seen: dict[int, str] = {}
    for env, port in config.ports().items():
        if port in seen:
            raise ConfigurationError(
                f"{env} and {seen[port]} both ask for port {port}: give one of them another port"
            )
        seen[port] = env
    busy = [
        f"{port} (set {env} to another port)"
        for env, port in config.ports().items()
        if _port_in_use(port)
    ]
    if busy:
        raise ConfigurationError(
            "ports already in use on 127.0.0.1: "
            + "; ".join(busy)
            + ". Another `make run` may still be running."
        )


def child_env(config: RunConfig) -> dict[str, str]:
    """What every child shares; each then gets its own PORT and DATABASE_URL."""
    env = dict(os.environ)
    env.update(
        {
            "PORTAL_ENV": "demo",
            "KAFKA_BOOTSTRAP_SERVERS": f"{LOOPBACK}:{config.kafka_port}",
            "PUBLIC_URL": config.public_url,
            "JWKS_URL": f"{config.service_url('identity')}/auth/jwks",
            "HOST": LOOPBACK,
            "SMTP_HOST": LOOPBACK,
            "SMTP_PORT": str(config.smtp_port),
            "PYTHONUNBUFFERED": "1",
        }
    )
    # Readable lines in a terminal, unless the caller asked for JSON.
    env.setdefault("LOG_JSON", "false")
    for s in SERVICES:
        env[f"{s.name.upper()}_URL"] = config.service_url(s.name)
    return env


def service_env(
    base: Mapping[str, str], postgres: EmbeddedPostgres, s: PortalProcess, port: int
) -> dict[str, str]:
    return {**base, "PORT": str(port), "DATABASE_URL": postgres.database_url(s.database or s.name)}


async def wait_ready(urls: Mapping[str, str], within: float, supervisor: Supervisor) -> None:
    """Poll each /readyz until it answers 200; name the ones that never do."""
    deadline = time.monotonic() + within
    pending = dict(urls)
    last: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=2.0) as client:
        while pending:
            if supervisor.died.is_set():
                return
            for name, url in list(pending.items()):
                try:
                    response = await client.get(f"{url}/readyz")
                except httpx.HTTPError as exc:
                    last[name] = type(exc).__name__
                    continue
                if response.status_code == 200:
                    del pending[name]
                else:
                    last[name] = f"{response.status_code} {response.text[:200]}"
            if pending and time.monotonic() > deadline:
                detail = ", ".join(f"{n} ({last.get(n, 'no answer')})" for n in pending)
                raise ChildFailed(f"not ready after {within:.0f} s: {detail}")
            if pending:
                await asyncio.sleep(0.25)


async def watch_postgres(postgres: EmbeddedPostgres, supervisor: Supervisor) -> None:
    """pg_ctl detaches the server, so it is watched through its pid file."""
    log = postgres.data_dir / "server.log"
    while True:
        await asyncio.sleep(1.0)
        if supervisor.shutting_down:
            return
        if postmaster_pid(postgres) is None:
            supervisor.note_failure(f"PostgreSQL stopped unexpectedly (see {log})")
            return


def postmaster_pid(postgres: EmbeddedPostgres) -> int | None:
    """The server's pid from its pid file, if it names a live process."""
    try:
        pid = int((postgres.data_dir / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def stop_postgres(postgres: EmbeddedPostgres, grace: float) -> None:
    """pg_ctl's fast shutdown, then the same signal sent directly, then an immediate one.

    The runner must never leave the server behind, even if pg_ctl gives up.
    """
    postgres.stop()
    for sig in (signal.SIGINT, signal.SIGQUIT):
        pid = postmaster_pid(postgres)
        if pid is None:
            return
        say("run", f"PostgreSQL (pid {pid}) is still running: sending {sig.name}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while postmaster_pid(postgres) == pid and time.monotonic() < deadline:
            time.sleep(0.2)
    if postmaster_pid(postgres) is not None:
        say("run", f"ERROR: PostgreSQL did not stop; see {postgres.data_dir / 'server.log'}")


def banner(config: RunConfig, scanner: str | None = None) -> str:
    pub = config.public_url
    lines = [
        "",
        "The Baikonur portal is running. Ctrl-C stops every process it started.",
        "",
        f"  gateway             {pub}",
        f"  API docs            {pub}/docs",
        f"  OpenAPI             {pub}/openapi.json",
        f"  AsyncAPI            {pub}/asyncapi.json",
        f"  OIDC discovery      {pub}/auth/.well-known/openid-configuration",
        "",
    ]
    for s in SERVICES:
        url = config.service_url(s.name)
        lines.append(f"  {s.name:<19} {url}  (docs {url}/docs)")
    lines += [
        "",
        f"  PostgreSQL          postgresql://postgres@{LOOPBACK}:{config.postgres_port}/"
        + "{"
        + ",".join(str(s.database) for s in SERVICES)
        + "}",
        f"  Kafka bootstrap     {PUBLIC_HOST}:{config.kafka_port}",
        f"  SMTP sink           {LOOPBACK}:{config.smtp_port}, mail in {config.data_dir / 'mail'}",
        "  malware scanner     "
        + (scanner or f"NONE: uploads are not scanned (clamd is not installed; {DEBIAN_PACKAGE})"),
        f"  data folder         {config.data_dir}",
        "",
        "Demo credentials (refused in production):",
    ]
    lines += [f"  {what:<21} {value}" for what, value in DEMO_CREDENTIALS]
    lines.append(
        f"  redirect URIs         {pub}/callback, http://{LOOPBACK}:{config.gateway_port}/callback"
    )
    return "\n".join(lines) + "\n"


class Runner:
    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.supervisor = Supervisor()
        self.postgres = EmbeddedPostgres(config.data_dir / "postgres", config.postgres_port)
        self.postgres_started = False
        self.postgres_watch: asyncio.Task[None] | None = None
        self.broker: Child | None = None
        self.mail = MailSink(config.data_dir / "mail", config.smtp_port)
        # CLAMD_URL for the requests service: the caller's own, or the embedded clamd's.
        self.clamd_url: str | None = os.environ.get("CLAMD_URL") or None
        self.services: list[Child] = []
        self.stop_requested = asyncio.Event()
        self.interrupted_by: str | None = None

    def request_stop(self, sig: signal.Signals) -> None:
        if self.stop_requested.is_set():
            say("run", "already stopping; please wait")
            return
        self.interrupted_by = sig.name
        self.stop_requested.set()

    async def start(self) -> None:
        config, sup = self.config, self.supervisor
        reuse = (self.postgres.data_dir / "PG_VERSION").exists()
        say(
            "run",
            ("reusing" if reuse else "creating") + f" PostgreSQL data in {self.postgres.data_dir}",
        )
        await asyncio.to_thread(self.postgres.start)
        self.postgres_started = True
        self.postgres_watch = asyncio.create_task(
            watch_postgres(self.postgres, sup), name="watch:postgres"
        )
        say("run", f"PostgreSQL listening on {LOOPBACK}:{config.postgres_port}")

        broker_cmd = EmbeddedBroker(config.kafka_port).command()
        self.broker = await sup.spawn("broker", broker_cmd, env=os.environ, long_running=True)
        await asyncio.to_thread(wait_for_port, LOOPBACK, config.kafka_port, 20)
        bootstrap = f"{LOOPBACK}:{config.kafka_port}"
        # The broker keeps topics in memory only: they are created again on every run.
        await ensure_topics(
            bootstrap, with_dead_letters(CONTRACT_TOPICS), partitions=TOPIC_PARTITIONS
        )
        say("run", f"Kafka broker on {bootstrap}; topics created")
        # Nothing leaves this machine: every email the portal sends lands in a Maildir.
        await asyncio.to_thread(self.mail.start)
        say("run", f"SMTP sink on {LOOPBACK}:{config.smtp_port}, writing to {self.mail.folder}")
        await self.start_clamd()

        base = child_env(config)
        python = sys.executable
        await asyncio.gather(
            *(
                sup.run_once(
                    f"migrate:{s.name}",
                    [python, "-m", s.package, "migrate"],
                    env=service_env(base, self.postgres, s, config.service_ports[s.name]),
                    within=config.seed_timeout,
                )
                for s in SERVICES
            )
        )
        say("run", "databases migrated")

        for s in SERVICES:
            env = service_env(base, self.postgres, s, config.service_ports[s.name])
            if s.name == "requests" and self.clamd_url:
                env["CLAMD_URL"] = self.clamd_url
            self.services.append(
                await sup.spawn(
                    s.name, [python, "-m", s.package, "serve"], env=env, long_running=True
                )
            )
        env = {**base, "PORT": str(config.gateway_port)}
        self.services.append(
            await sup.spawn(
                GATEWAY.name,
                [python, "-m", GATEWAY.package, "serve"],
                env=env,
                long_running=True,
            )
        )
        # The services themselves, and the gateway too: its readiness is its own view
        # of them, which may lag behind.
        ready = {s.name: config.service_url(s.name) for s in SERVICES}
        ready[GATEWAY.name] = f"http://{LOOPBACK}:{config.gateway_port}"
        await wait_ready(ready, config.ready_timeout, sup)
        say("run", "services ready; loading the demo data")

        by_name = {s.name: s for s in SERVICES}
        for step in SEED_ORDER:
            await asyncio.gather(
                *(
                    sup.run_once(
                        f"seed:{name}",
                        [python, "-m", by_name[name].package, "seed-demo"],
                        env=service_env(
                            base, self.postgres, by_name[name], config.service_ports[name]
                        ),
                        within=config.seed_timeout,
                    )
                    for name in step
                )
            )
        sys.stdout.write(banner(config, self.clamd_url and f"clamd {self.clamd_url}"))
        sys.stdout.flush()

    async def start_clamd(self) -> None:
        """clamd with the EICAR-only signature database (no download), if installed, as a
        supervised child like the others; the portal runs without scanning otherwise, and
        the banner says so."""
        if self.clamd_url:
            say("run", f"documents are scanned by the clamd at {self.clamd_url} (CLAMD_URL)")
            return
        try:
            binary = clamd_bin()
        except RuntimeError as exc:
            say("run", f"WARNING: {exc}; uploaded documents will NOT be scanned for malware")
            return
        clamd = EmbeddedClamd(self.config.data_dir / "clamd", self.config.clamd_port)
        await asyncio.to_thread(clamd.write_config)
        argv = [binary, "--config-file", str(clamd.config_file)]
        child = await self.supervisor.spawn("clamd", argv, env=os.environ, long_running=True)
        try:
            await asyncio.to_thread(wait_for_port, LOOPBACK, self.config.clamd_port, 60)
        except OSError:
            await self.supervisor.stop([child], grace=self.config.stop_grace)
            say("run", "WARNING: clamd did not start; uploaded documents will NOT be scanned")
            return
        self.clamd_url = clamd.url
        say("run", f"clamd on {clamd.url} (test signatures only: EICAR)")

    async def shutdown(self) -> None:
        sup = self.supervisor
        sup.shutting_down = True
        grace = self.config.stop_grace
        # Services (and any step still running) first: they flush and leave the
        # broker's consumer groups while it is still there.
        others = [c for c in sup.children if c is not self.broker]
        if others:
            say("run", "stopping " + ", ".join(c.name for c in others))
            await sup.stop(others, grace=grace)
        await asyncio.to_thread(self.mail.stop)
        if self.broker is not None:
            say("run", "stopping the broker")
            await sup.stop([self.broker], grace=grace)
        if self.postgres_started:
            say("run", "stopping PostgreSQL")
            await asyncio.to_thread(stop_postgres, self.postgres, grace)
        say("run", "stopped")

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        # SIGHUP too: closing the terminal must stop the children, which sit in sessions
        # of their own and would not get it.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self.request_stop, sig)
        code = 0
        starting = asyncio.create_task(self.start(), name="start")
        stop = asyncio.create_task(self.stop_requested.wait())
        died = asyncio.create_task(self.supervisor.died.wait())
        try:
            await asyncio.wait({starting, stop, died}, return_when=asyncio.FIRST_COMPLETED)
            if starting.done() and starting.exception() is None:
                await asyncio.wait({stop, died}, return_when=asyncio.FIRST_COMPLETED)
            elif starting.done():
                exc = starting.exception()
                self.supervisor.note_failure(f"start-up failed: {exc}")
            else:
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await starting
        finally:
            stop.cancel()
            died.cancel()
            if self.supervisor.failure:
                say("run", f"ERROR: {self.supervisor.failure}; stopping everything")
                code = 1
            elif self.interrupted_by:
                say("run", f"{self.interrupted_by} received; stopping everything")
            await self.shutdown()
        return code


def main() -> int:
    # The runner's own library logs (topic creation) would interleave unprefixed with the
    # children's lines; only its warnings matter here.
    configure_logging("run", "WARNING", json=False)
    try:
        config = RunConfig.from_env(os.environ)
        stale = EmbeddedPostgres(config.data_dir / "postgres", config.postgres_port)
        if (stale.data_dir / "postmaster.pid").exists():
            # Our own data folder's server, left by a run that was killed: it would hold
            # the port, and only the server of this folder may use this folder anyway.
            say("run", "stopping a PostgreSQL left running by an earlier run")
            stop_postgres(stale, config.stop_grace)
            # The port is released a moment after the server is gone.
            deadline = time.monotonic() + 10
            while _port_in_use(config.postgres_port) and time.monotonic() < deadline:
                time.sleep(0.2)
        check_ports(config)
    except ConfigurationError as exc:
        say("run", f"ERROR: {exc}")
        return 2
    return asyncio.run(Runner(config).run())
