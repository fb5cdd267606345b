"""Real service processes for the fault tests, and the few tools the tests measure them with.

A `Portal` starts `python -m <package> migrate`, then `serve` or `worker`, with
the environment a deployment would give them (database, broker, JWKS, consumer
group prefix), captures each process's output in a file, waits for readiness
with a bound, and kills or stops processes on demand (tokens come from a `TestIssuer`
whose keys `portal_testing.service.serve_jwks` serves over real HTTP, so the services verify
them exactly as in production). The rest counts what a test sends and what arrives: CloudEvents
produced the way the directory and catalog produce them, topics read with a
plain consumer, rows counted straight from a service's database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from sqlalchemy.engine import make_url

from portal_embedded.broker import free_port
from portal_shared.db import asyncpg_dsn
from portal_shared.events import CONTRACT_TOPICS, CloudEvent, ensure_topics, with_dead_letters

# The import package of each service (the requests package must not shadow `requests`).
PACKAGES = {"directory": "directory", "catalog": "catalog", "requests": "service_requests"}
# Every wait in these tests is bounded; a process that is not ready by then has failed.
READY_WITHIN = 60.0


@dataclass
class ServiceProcess:
    """One running process of a service: `serve` (HTTP, and relay and consumers unless
    switched off) or `worker` (relay and consumers only)."""

    name: str
    package: str
    command: str
    env: dict[str, str]
    log_path: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError(f"{self.name} serves no HTTP")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start #{self.starts}: {self.command} ===\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.package, self.command],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: a signal for it never reaches pytest.
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def wait_ready(self, within: float = READY_WITHIN) -> None:
        """Until /readyz says ready (serve), or the lifespan has started (worker)."""
        async with asyncio.timeout(within):
            while True:
                if not self.alive():
                    raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
                if await self._ready():
                    return
                await asyncio.sleep(0.1)

    async def _ready(self) -> bool:
        if self.port is None:
            # The worker logs this once its relay and consumers are launched.
            return self._log_mark_count("service_started") >= self.starts
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                response = await client.get(self.base_url + "/readyz")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _log_mark_count(self, mark: str) -> int:
        return self.log_path.read_text(errors="replace").count(mark)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as when a machine or container dies."""
        if self.process is not None and self.alive():
            os.kill(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop in time."""
        if self.process is None:
            return
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no output)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Portal:
    """The processes of one fault test, all on one PostgreSQL server and one broker."""

    folder: Path
    postgres_url: str
    bootstrap: str
    jwks_url: str
    # Unique per test, so its consumer groups never meet another test's on a shared broker.
    group_prefix: str = field(default_factory=lambda: f"faults-{uuid.uuid4().hex[:8]}.")
    processes: list[ServiceProcess] = field(default_factory=list)
    databases: dict[str, str] = field(default_factory=dict)

    def database_url(self, service: str) -> str:
        """The service's database for this test, with a name no other test uses."""
        if service not in self.databases:
            name = f"faults_{service}_{uuid.uuid4().hex[:8]}"
            self.databases[service] = f"{self.postgres_url}/{name}"
        return self.databases[service]

    def environment(self, service: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "RUN_"))}
        env.update(
            PORTAL_ENV="test",
            HOST="127.0.0.1",
            DATABASE_URL=self.database_url(service),
            DATABASE_POOL_SIZE="5",
            KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            KAFKA_SESSION_TIMEOUT_MS="3000",
            KAFKA_HEARTBEAT_INTERVAL_MS="1000",
            KAFKA_GROUP_PREFIX=self.group_prefix,
            JWKS_URL=self.jwks_url,
            # settings.issuer is PUBLIC_URL + "/auth", which must be the TestIssuer's issuer.
            PUBLIC_URL="http://localhost:8000",
            LOG_JSON="false",
        )
        env.update(extra)
        return env

    async def migrate(self, *services: str) -> None:
        """Give each service its migrated database, side by side. `python -m <package> migrate`
        runs once per service and server into a template; each test's database is a copy of
        it, which takes a fraction of a second instead of a process start."""

        async def one(service: str) -> None:
            template = await _migrated_template(self, service)
            name = make_url(self.database_url(service)).database
            admin = await asyncpg.connect(asyncpg_dsn(f"{self.postgres_url}/postgres"))
            try:
                await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            finally:
                await admin.close()

        await asyncio.gather(*(one(s) for s in services))

    async def run_migrate(self, service: str, database_url: str) -> None:
        log_path = self.folder / f"{service}-migrate.log"
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                PACKAGES[service],
                "migrate",
                env=self.environment(service, DATABASE_URL=database_url),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                async with asyncio.timeout(READY_WITHIN):
                    code = await proc.wait()
            except TimeoutError:
                proc.kill()
                raise
        if code != 0:
            raise RuntimeError(f"{service} migrate failed:\n{log_path.read_text()[-3000:]}")

    def process(self, service: str, command: str, *, label: str = "", **env: str) -> ServiceProcess:
        """A process of `service` (not started); `env` adds variables such as RUN_RELAY."""
        name = f"{service}-{command}{label}"
        port = free_port() if command == "serve" else None
        extra = dict(env)
        if port is not None:
            extra["PORT"] = str(port)
        proc = ServiceProcess(
            name=name,
            package=PACKAGES[service],
            command=command,
            env=self.environment(service, **extra),
            log_path=self.folder / f"{name}.log",
            port=port,
        )
        self.processes.append(proc)
        return proc

    async def start(
        self, service: str, command: str, *, label: str = "", **env: str
    ) -> ServiceProcess:
        proc = self.process(service, command, label=label, **env)
        proc.start()
        await proc.wait_ready()
        return proc

    def shutdown(self) -> None:
        # Signal every process first, so their graceful stops overlap.
        for proc in self.processes:
            if proc.process is not None and proc.alive():
                proc.process.terminate()
        for proc in self.processes:
            proc.stop()

    async def drop_databases(self) -> None:
        """Drop this test's databases (the migrated templates stay for the next test)."""
        try:
            admin = await asyncpg.connect(asyncpg_dsn(f"{self.postgres_url}/postgres"))
        except OSError:
            return  # a server of the test's own that is already gone
        try:
            for url in self.databases.values():
                name = make_url(url).database
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    def report(self) -> str:
        """Every process's last lines; pytest shows them when the test failed."""
        return "\n".join(f"--- {p.name} ---\n{p.tail()}" for p in self.processes)


# What the `portals` fixture gives: a Portal on a broker (and PostgreSQL server) of choice.
PortalFactory = Callable[..., Portal]

# (PostgreSQL server, service) -> the name of a database migrated to head.
_templates: dict[tuple[str, str], str] = {}
_template_lock = asyncio.Lock()


async def _migrated_template(portal: Portal, service: str) -> str:
    async with _template_lock:
        key = (portal.postgres_url, service)
        if key not in _templates:
            name = f"faults_template_{service}_{uuid.uuid4().hex[:8]}"
            await portal.run_migrate(service, f"{portal.postgres_url}/{name}")
            _templates[key] = name
        return _templates[key]


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 60.0, what: str = "condition"
) -> None:
    """Poll until `check` holds, failing with `what` after `within` seconds."""
    try:
        async with asyncio.timeout(within):
            while not await check():
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"not reached within {within:.0f} s: {what}") from None


async def fetchval(database_url: str, query: str, *args: Any) -> Any:
    """One value from a service's database, read the way an operator would check it."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def count(database_url: str, query: str, *args: Any) -> int:
    try:
        return int(await fetchval(database_url, query, *args) or 0)
    except (asyncpg.UndefinedTableError, asyncpg.InvalidCatalogNameError):
        return 0


def agency_data(
    agency_id: uuid.UUID, *, version: int = 1, status: str = "active"
) -> dict[str, Any]:
    """The public agency, as the directory's events carry it."""
    now = datetime.now(UTC).isoformat()
    return {
        "id": str(agency_id),
        "code": f"BKR-F{agency_id.hex[:8].upper()}",
        "name": {"kk": "Агенттік", "ru": "Агентство", "en": "Agency"},
        "kind": "department",
        "parent_id": None,
        "bin": "140740190074",
        "city": "Baikonur",
        "address": "Baikonur, Gagarin street, 12",
        "timezone": "Asia/Qyzylorda",
        "working_hours": {},
        "contacts": {},
        "status": status,
        "version": version,
        "created_at": now,
        "updated_at": now,
    }


def agency_event(agency_id: uuid.UUID, **kwargs: Any) -> CloudEvent:
    return CloudEvent(
        type="directory.agency.registered.v1",
        source="/directory",
        subject=str(agency_id),
        data=agency_data(agency_id, **kwargs),
    )


FORM_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["purpose"],
    "additionalProperties": False,
    "properties": {"purpose": {"type": "string", "enum": ["work", "study", "family"]}},
}


def service_event(
    service_id: uuid.UUID,
    agency_id: uuid.UUID,
    *,
    version: int = 1,
    form_schema: dict[str, Any] | None = None,
) -> CloudEvent:
    """A catalog.service.published.v1 event: the published version, form schema included."""
    now = datetime.now(UTC).isoformat()
    data = {
        "id": str(service_id),
        "code": f"SVC-F{service_id.hex[:6].upper()}",
        "name": {"kk": "Қызмет", "ru": "Услуга", "en": "Residence registration"},
        "description": {"kk": "", "ru": "", "en": ""},
        "agency_id": str(agency_id),
        "term_working_days": 5,
        "fee": {"amount": 0, "currency": "KZT"},
        "result": {"kk": "", "ru": "", "en": ""},
        "required_documents": [],
        "refusal_grounds": [],
        "channels": ["online"],
        "form_schema": FORM_SCHEMA if form_schema is None else form_schema,
        "status": "published",
        "version": version,
        "published_at": now,
        "updated_at": now,
    }
    return CloudEvent(
        type="catalog.service.published.v1", source="/catalog", subject=str(service_id), data=data
    )


async def provision(bootstrap: str) -> None:
    """Create the contract's topics as the services do (6 partitions), before a test produces
    to them: a topic the broker auto-creates on produce gets its own partition count."""
    await ensure_topics(bootstrap, with_dead_letters(CONTRACT_TOPICS), partitions=6)


async def produce(
    bootstrap: str,
    topic: str,
    events: Iterable[CloudEvent],
    *,
    raw: Sequence[tuple[bytes, bytes | None, list[tuple[str, bytes]]]] = (),
) -> None:
    """Produce CloudEvents keyed by their subject (as the services' relays do), after any
    `raw` (key, value, headers) messages."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=value, key=key, headers=headers)
            for key, value, headers in raw
        ]
        futures += [
            await producer.send(topic, value=e.value(), key=e.subject.encode(), headers=e.headers())
            for e in events
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str, topic: str, *, at_least: int, within: float = 60.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` from the start: at least `at_least`, plus whatever follows
    within a short quiet spell (a duplicate beyond the expected count must be seen)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    out: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(within):
            while len(out) < at_least:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    out.extend(records)
        while batch := await consumer.getmany(timeout_ms=500):
            for records in batch.values():
                out.extend(records)
    finally:
        await consumer.stop()
    return out


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str:
    value: bytes = dict(record.headers or [])[name]
    return value.decode()
