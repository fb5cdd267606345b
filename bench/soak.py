"""`make soak`: the requests path under mixed load and random faults, then exactly-once checks.

`python -m bench.soak` starts its own portal on free ports: an embedded PostgreSQL, a
broker that every client reaches through a TCP proxy this process can cut, the requests
service as two processes (`serve` for HTTP, `worker` for the outbox relay and consumers),
the gateway, and a checker: an idempotent consumer of requests.request (portal_shared's
EventConsumer, deduplicating by ce_id) that records every effect it applies in a database
of its own. The directory's and catalog's events for one published service are produced
the way those services would.

For SOAK_SECONDS (default 1800) residents submit (each with an Idempotency-Key, retried
with the same key when the answer is lost) and officers and applicants walk the requests
through the workflow, all through the gateway, while a fault is injected every
SOAK_FAULT_EVERY seconds (default 20, jittered): the broker cut for a few seconds, a
SIGKILL and restart of the requests `serve`, its `worker`, the gateway or the checker,
or a PostgreSQL restart. Then everything is restored and the outbox drains.

Checks, each printed with its count; any violation exits non-zero:
- every accepted submission (201) exists exactly once, and no submission (one
  Idempotency-Key, however often retried) made two requests;
- every request has exactly one `submitted` event on requests.request (repeats on the
  wire are allowed only with the same ce_id), and every transition in its history has
  exactly one event;
- the checker applied every event exactly once, no event twice;
- per request, the events were applied in the order of the request's history.

SOAK_FAULTS (default all: broker cut, requests serve, requests worker, gateway, checker,
postgres) picks the kinds of fault; SOAK_RATE (default 20 submissions/s in all, each
followed by about three workflow actions: a steady load rather than the most the
machine can take, which the checker, applying every event on the same two cores, could
not keep up with for 30 minutes), SOAK_CONCURRENCY (default 8 submitters; officers are
half as many) and SOAK_DRAIN_SECONDS (default 900; the drain ends as soon as everything
is caught up, and gives up early after two minutes without progress) tune the run. The
gateway's rate limits are raised (one address, many residents); the output says so.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from bench.harness import PublishedService, publish_service
from bench.submissions import GATEWAY_LIMITS
from portal_embedded.broker import EmbeddedBroker, free_port
from portal_embedded.postgres import EmbeddedPostgres
from portal_embedded.proxy import TcpProxy
from portal_shared.db import asyncpg_dsn, make_engine, make_sessionmaker
from portal_shared.events import CloudEvent, EventConsumer, make_producer
from portal_shared.migrations import create_event_tables, ensure_database
from portal_testing.service import TestIssuer, serve_jwks
from service_requests.workflow import EVENT_NAMES

SECONDS = float(os.environ.get("SOAK_SECONDS", "1800"))
FAULT_EVERY = float(os.environ.get("SOAK_FAULT_EVERY", "20"))
CONCURRENCY = int(os.environ.get("SOAK_CONCURRENCY", "8"))
RATE = float(os.environ.get("SOAK_RATE", "20"))
DRAIN_SECONDS = float(os.environ.get("SOAK_DRAIN_SECONDS", "900"))
KINDS = ("broker cut", "requests serve", "requests worker", "gateway", "checker", "postgres")
# A comma-separated subset of KINDS, e.g. SOAK_FAULTS=postgres to try one kind of fault.
FAULTS = [k.strip() for k in os.environ.get("SOAK_FAULTS", ",".join(KINDS)).split(",")]
RESIDENTS = 20
TOPIC = "requests.request"
CHECKER_GROUP = "soak.requests.request"
READY_WITHIN = 90.0
# How long a resident keeps retrying one submission whose answers are lost.
RETRY_FOR = 120.0


# The checker ------------------------------------------------------------------------------


def _effects_schema(connection: Connection) -> None:
    create_event_tables(Operations(MigrationContext.configure(connection)))
    # No unique key on ce_id here on purpose: a second application must show, not fail.
    connection.execute(
        text(
            "CREATE TABLE effects (seq bigserial PRIMARY KEY, ce_id text NOT NULL,"
            " request_id uuid NOT NULL, type text NOT NULL, version int NOT NULL)"
        )
    )


async def consume(database_url: str, bootstrap: str) -> None:
    """The checker process: apply each requests.request event once, in its own database."""

    async def apply(session: AsyncSession, event: CloudEvent) -> None:
        await session.execute(
            text(
                "INSERT INTO effects (ce_id, request_id, type, version)"
                " VALUES (:ce_id, :request_id, :type, :version)"
            ),
            {
                "ce_id": event.id,
                "request_id": UUID(event.data["id"]),
                "type": event.type,
                "version": int(event.data["version"]),
            },
        )

    engine = make_engine(database_url, pool_size=2)
    consumer = EventConsumer(
        group_id=CHECKER_GROUP,
        bootstrap_servers=bootstrap,
        topics=[TOPIC],
        handlers={f"{TOPIC}.{n}.v1": apply for n in EVENT_NAMES},
        sessionmaker=make_sessionmaker(engine),
        producer_factory=lambda: make_producer(bootstrap, idempotence=False),
        max_attempts=1000,
        session_timeout_ms=3000,
        heartbeat_interval_ms=1000,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("checker_started", flush=True)
    await consumer.run(stop)
    await engine.dispose()


# Processes ------------------------------------------------------------------------------


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


# Load -------------------------------------------------------------------------------------


@dataclass
class Counts:
    sent: int = 0  # distinct submissions (one Idempotency-Key each)
    attempts: int = 0  # HTTP POSTs, retries included
    accepted: int = 0  # answered 201
    replayed: int = 0  # answered 200 Idempotent-Replayed for a retried key
    refused: collections.Counter[int] = field(default_factory=collections.Counter)
    lost: int = 0  # answers lost to a fault (connection error or timeout)
    unresolved: int = 0  # submissions given up on without any answer
    actions_ok: int = 0
    actions_other: collections.Counter[int] = field(default_factory=collections.Counter)
    faults: collections.Counter[str] = field(default_factory=collections.Counter)


@dataclass
class Load:
    gateway: str
    published: PublishedService
    residents: list[tuple[UUID, str]]
    officer: str
    counts: Counts = field(default_factory=Counts)
    accepted: dict[UUID, str] = field(default_factory=dict)  # request id -> key
    owner: dict[UUID, str] = field(default_factory=dict)  # request id -> resident token
    work: asyncio.Queue[tuple[UUID, str]] = field(default_factory=asyncio.Queue)

    async def submitter(self, client: httpx.AsyncClient, until: float) -> None:
        # Each submitter's share of SOAK_RATE; one that falls behind (a fault) does not
        # catch up in a burst.
        interval = CONCURRENCY / RATE
        due = time.monotonic()
        while time.monotonic() < until:
            due = max(due + interval, time.monotonic())
            _, token = random.choice(self.residents)
            key = uuid4().hex
            body = {
                "service_id": str(self.published.service_id),
                "form_data": {"purpose": random.choice(["work", "study", "family"]), "note": key},
            }
            self.counts.sent += 1
            # The same key until an answer arrives (a restart can take a while on a busy
            # machine): a lost answer must not make two requests.
            give_up = time.monotonic() + RETRY_FOR
            while True:
                if time.monotonic() > give_up:
                    self.counts.unresolved += 1
                    break
                self.counts.attempts += 1
                try:
                    answer = await client.post(
                        "/api/v1/requests",
                        json=body,
                        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
                    )
                except httpx.HTTPError:
                    self.counts.lost += 1
                    await asyncio.sleep(0.5)
                    continue
                if answer.status_code in (201, 200):
                    request_id = UUID(answer.json()["id"])
                    if answer.status_code == 201:
                        self.counts.accepted += 1
                    else:
                        self.counts.replayed += 1
                    if request_id not in self.accepted:
                        self.accepted[request_id] = key
                        self.owner[request_id] = token
                        self.work.put_nowait((request_id, "submitted"))
                    break
                self.counts.refused[answer.status_code] += 1
                if answer.status_code < 500:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    def _next(self, request_id: UUID, status: str) -> tuple[str, dict[str, Any]] | None:
        officer = {"Authorization": f"Bearer {self.officer}"}
        owner = {"Authorization": f"Bearer {self.owner[request_id]}"}
        roll = random.random()
        if status == "submitted":
            if roll < 0.05:
                return "cancel", owner
            return "accept", officer
        if status == "in_review":
            if roll < 0.1:
                return "request_info", officer
            if roll < 0.2:
                return "reject", officer
            return "approve", officer
        if status == "needs_info":
            return "resubmit", owner
        if status == "approved":
            return "complete", officer
        return None

    async def officer_loop(self, client: httpx.AsyncClient, until: float) -> None:
        bodies: dict[str, dict[str, Any]] = {
            "request_info": {"comment": "Please attach the lease"},
            "reject": {"reason_code": "incomplete"},
            "complete": {"result": "Registered"},
        }
        while time.monotonic() < until:
            try:
                request_id, status = await asyncio.wait_for(self.work.get(), 1.0)
            except TimeoutError:
                continue
            step = self._next(request_id, status)
            if step is None:
                continue
            action, headers = step
            if action == "resubmit":
                # The note is the submission's key: the resubmitted form keeps it.
                note = self.accepted[request_id]
                bodies["resubmit"] = {"form_data": {"purpose": "study", "note": note}}
            try:
                answer = await client.post(
                    f"/api/v1/requests/{request_id}/actions",
                    json={"action": action, **bodies.get(action, {})},
                    headers=headers,
                )
            except httpx.HTTPError:
                # Outcome unknown: read the request's state when it answers again.
                self.counts.lost += 1
                await asyncio.sleep(0.5)
                self.work.put_nowait((request_id, await self._status(client, request_id)))
                continue
            if answer.status_code == 200:
                self.counts.actions_ok += 1
                self.work.put_nowait((request_id, answer.json()["status"]))
            else:
                self.counts.actions_other[answer.status_code] += 1
                await asyncio.sleep(0.2)
                self.work.put_nowait((request_id, await self._status(client, request_id)))

    async def _status(self, client: httpx.AsyncClient, request_id: UUID) -> str:
        for _ in range(60):
            with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                answer = await client.get(
                    f"/api/v1/requests/{request_id}",
                    headers={"Authorization": f"Bearer {self.officer}"},
                )
                if answer.status_code == 200:
                    status: str = answer.json()["status"]
                    return status
            await asyncio.sleep(0.5)
        return "unknown"


# The run ----------------------------------------------------------------------------------


@dataclass
class Portal:
    folder: Path
    postgres: EmbeddedPostgres
    proxy: TcpProxy
    bootstrap: str
    procs: dict[str, Proc] = field(default_factory=dict)


async def faults(portal: Portal, counts: Counts, until: float) -> None:
    kinds = FAULTS
    while True:
        wait = FAULT_EVERY * random.uniform(0.5, 1.5)
        if time.monotonic() + wait >= until:
            return
        await asyncio.sleep(wait)
        kind = random.choice(kinds)
        counts.faults[kind] += 1
        print(f"  fault at {time.strftime('%X')}: {kind}", flush=True)
        if kind == "broker cut":
            portal.proxy.cut()
            await asyncio.sleep(random.uniform(2, 8))
            portal.proxy.restore()
        elif kind == "postgres":
            await asyncio.to_thread(portal.postgres.restart)
        else:
            proc = portal.procs[kind]
            proc.kill()
            await asyncio.sleep(random.uniform(0.5, 3))
            proc.start()
            await proc.wait_ready()


async def fetch(url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def drain(requests_db: str, checker_db: str) -> None:
    """Until the outbox is empty and the checker has applied an event per history entry,
    for SOAK_DRAIN_SECONDS at most, or 120 s without any progress."""
    deadline = time.monotonic() + DRAIN_SECONDS
    progress: tuple[int, int] | None = None
    stalled_since = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - stalled_since < 120:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            pending = (
                await fetch(requests_db, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
            )[0][0]
            history = (await fetch(requests_db, "SELECT count(*) FROM request_history"))[0][0]
            applied = (await fetch(checker_db, "SELECT count(DISTINCT ce_id) FROM effects"))[0][0]
            if pending == 0 and applied >= history:
                return
            if (pending, applied) != progress:
                progress, stalled_since = (pending, applied), time.monotonic()
        await asyncio.sleep(1)
    print(f"  drain did not finish (outbox unsent, events applied: {progress})")


async def read_topic(bootstrap: str) -> list[tuple[str, str, UUID, int]]:
    """(ce_id, type, request id, version) of every record on the topic, repeats included."""
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    out: list[tuple[str, str, UUID, int]] = []
    try:
        quiet = 0
        while quiet < 5:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            quiet = 0 if batch else quiet + 1
            for records in batch.values():
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers or []}
                    payload = orjson.loads(record.value or b"{}")
                    out.append(
                        (
                            headers["ce_id"],
                            headers["ce_type"],
                            UUID(payload["id"]),
                            int(payload["version"]),
                        )
                    )
    finally:
        await consumer.stop()
    return out


def check(
    load: Load,
    requests: list[asyncpg.Record],
    history: list[asyncpg.Record],
    wire: list[tuple[str, str, UUID, int]],
    effects: list[asyncpg.Record],
) -> list[str]:
    """Every violation of the exactly-once and order guarantees, as readable lines."""
    problems: list[str] = []
    in_db = collections.Counter(r["id"] for r in requests)
    per_key = collections.Counter(r["note"] for r in requests)
    for request_id in load.accepted:
        if in_db[request_id] != 1:
            problems.append(f"accepted request {request_id} exists {in_db[request_id]} times")
    problems += [f"submission {k} made {n} requests" for k, n in per_key.items() if n > 1]

    # On the wire: a repeat is allowed only as the same event (same ce_id, same content).
    by_ce: dict[str, set[tuple[str, UUID, int]]] = collections.defaultdict(set)
    for ce_id, kind, request_id, version in wire:
        by_ce[ce_id].add((kind, request_id, version))
    problems += [f"ce_id {c} carries different events: {v}" for c, v in by_ce.items() if len(v) > 1]
    events = {c: next(iter(v)) for c, v in by_ce.items()}
    submitted = collections.Counter(r for k, r, _ in events.values() if k.endswith(".submitted.v1"))
    per_version = collections.Counter((r, v) for _, r, v in events.values())
    for request_id in in_db:
        if submitted[request_id] != 1:
            problems.append(f"request {request_id} has {submitted[request_id]} submitted events")
    steps: dict[UUID, list[int]] = collections.defaultdict(list)
    for row in history:
        steps[row["request_id"]].append(row["version"])
        if per_version[(row["request_id"], row["version"])] != 1:
            n = per_version[(row["request_id"], row["version"])]
            problems.append(f"{row['request_id']} v{row['version']}: {n} distinct events")

    # The checker: each event applied once, every request's events in its history's order.
    applied = collections.Counter(r["ce_id"] for r in effects)
    problems += [f"event {c} applied {n} times" for c, n in applied.items() if n > 1]
    problems += [f"event {c} never applied" for c in events if c not in applied]
    order: dict[UUID, list[int]] = collections.defaultdict(list)
    for row in sorted(effects, key=lambda r: r["seq"]):
        order[row["request_id"]].append(row["version"])
    for request_id, versions in steps.items():
        if order.get(request_id) != sorted(versions):
            problems.append(
                f"request {request_id}: applied in order {order.get(request_id)},"
                f" history {sorted(versions)}"
            )
    return problems


async def soak(folder: Path) -> int:
    issuer = TestIssuer()
    residents = [
        (u, issuer.token(sub=u, roles=["resident"], ttl=7200))
        for u in (uuid4() for _ in range(RESIDENTS))
    ]
    postgres = EmbeddedPostgres(folder / "pg", free_port(), fsync=False)
    proxy_port = free_port()
    # Clients connect to the address the broker advertises: the proxy, so a cut is total.
    broker = EmbeddedBroker(free_port(), log_file=folder / "broker.log", advertised_port=proxy_port)
    postgres.start()
    broker.start()
    proxy = TcpProxy("127.0.0.1", broker.port, listen_port=proxy_port)
    await proxy.start()
    bootstrap = f"127.0.0.1:{proxy_port}"
    portal = Portal(folder, postgres, proxy, bootstrap)
    requests_db = postgres.database_url("requests")
    checker_db = postgres.database_url("soak_checker")
    try:
        with serve_jwks(issuer) as jwks_url:
            base = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "RUN_"))}
            service_env = {
                **base,
                "PORTAL_ENV": "test",
                "HOST": "127.0.0.1",
                "DATABASE_URL": requests_db,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "KAFKA_SESSION_TIMEOUT_MS": "3000",
                "KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
                "JWKS_URL": jwks_url,
                "PUBLIC_URL": "http://localhost:8000",
                "LOG_LEVEL": "WARNING",
                "LOG_JSON": "false",
            }
            await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "service_requests", "migrate"],
                env=service_env,
                check=True,
            )
            await ensure_database(checker_db)
            engine = make_engine(checker_db)
            async with engine.begin() as conn:
                await conn.run_sync(_effects_schema)
            await engine.dispose()
            requests_port, gateway_port = free_port(), free_port()
            py = sys.executable
            portal.procs = {
                "requests serve": Proc(
                    "requests-serve", [py, "-m", "service_requests", "serve"],
                    {**service_env, "PORT": str(requests_port), "RUN_RELAY": "false",
                     "RUN_CONSUMERS": "false"},
                    folder, ready_url=f"http://127.0.0.1:{requests_port}/readyz",
                ),
                "requests worker": Proc(
                    "requests-worker", [py, "-m", "service_requests", "worker"],
                    # Its start-up line is logged at INFO: the mark it is waited for by.
                    {**service_env, "LOG_LEVEL": "INFO"}, folder, ready_mark="service_started",
                ),
                "gateway": Proc(
                    "gateway", [py, "-m", "gateway", "serve"],
                    {**service_env, "PORT": str(gateway_port),
                     "REQUESTS_URL": f"http://127.0.0.1:{requests_port}", **GATEWAY_LIMITS},
                    # Its /readyz asks every upstream; only the requests service runs here.
                    folder, ready_url=f"http://127.0.0.1:{gateway_port}/healthz",
                ),
                "checker": Proc(
                    "checker", [py, "-m", "bench.soak", "consume", checker_db, bootstrap],
                    base, folder, ready_mark="checker_started",
                ),
            }  # fmt: skip
            for proc in portal.procs.values():
                proc.start()
            await asyncio.gather(*(p.wait_ready() for p in portal.procs.values()))
            published = await publish_service(bootstrap)
            officer = issuer.token(roles=["officer"], agency_id=published.agency_id, ttl=7200)
            load = Load(f"http://127.0.0.1:{gateway_port}", published, residents, officer)
            await _wait_published(load)
            print(
                f"soak: {SECONDS:.0f} s of load, a fault every ~{FAULT_EVERY:.0f} s,"
                f" {RATE:.0f} submissions/s from {CONCURRENCY} submitters,"
                f" {max(1, CONCURRENCY // 2)} officers; gateway rate limits raised for the run;"
                " logs in " + str(folder),
                flush=True,
            )
            until = time.monotonic() + SECONDS
            async with httpx.AsyncClient(base_url=load.gateway, timeout=10.0) as client:
                tasks = [load.submitter(client, until) for _ in range(CONCURRENCY)]
                tasks += [load.officer_loop(client, until) for _ in range(max(1, CONCURRENCY // 2))]
                await asyncio.gather(faults(portal, load.counts, until), *tasks)
            # Drain: every fault undone, every process up, the outbox and the checker caught up.
            proxy.restore()
            for proc in portal.procs.values():
                if not proc.alive():
                    proc.start()
                    await proc.wait_ready()
            await drain(requests_db, checker_db)
            requests = await fetch(
                requests_db, "SELECT id, form_data->>'note' AS note FROM requests"
            )
            history = await fetch(requests_db, "SELECT request_id, version FROM request_history")
            wire = await read_topic(bootstrap)
            effects = await fetch(checker_db, "SELECT seq, ce_id, request_id, version FROM effects")
    finally:
        for proc in portal.procs.values():
            proc.stop()
        await proxy.stop()
        broker.stop()
        postgres.destroy()
    problems = check(load, requests, history, wire, effects)
    c = load.counts
    print(
        f"sent {c.sent} submissions ({c.attempts} POSTs), accepted {c.accepted} (201),"
        f" replayed {c.replayed} (200 for a retried key), refused {dict(c.refused)},"
        f" answers lost to faults {c.lost}, given up without an answer {c.unresolved}"
    )
    print(f"workflow actions applied {c.actions_ok}, other answers {dict(c.actions_other)}")
    print(
        f"in the database: {len(requests)} requests, {len(history)} history entries;"
        f" delivered: {len(wire)} records on {TOPIC}, {len({w[0] for w in wire})} distinct events;"
        f" applied by the checker: {len({e['ce_id'] for e in effects})} events"
        f" ({len(effects)} applications)"
    )
    print("faults: " + ", ".join(f"{k} x{n}" for k, n in sorted(c.faults.items())))
    if problems:
        print(f"FAILED: {len(problems)} violation(s)")
        for line in problems[:50]:
            print("  " + line)
        return 1
    print(
        "OK: every accepted submission exists once, with one submitted event, every event"
        " applied exactly once and in each request's history order"
    )
    return 0


async def _wait_published(load: Load) -> None:
    """Until the gateway answers and the requests service's copy has the service (a probe
    listing, which creates nothing, then the first real submission is the load's own)."""
    async with httpx.AsyncClient(base_url=load.gateway, timeout=5.0) as client:
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                answer = await client.post(
                    "/api/v1/requests",
                    json={
                        "service_id": str(load.published.service_id),
                        "form_data": {"purpose": 1},
                    },
                    headers={"Authorization": f"Bearer {load.residents[0][1]}"},
                )
                # 422 (form invalid) means the service is known; 422 for service_id otherwise.
                if answer.status_code == 422 and "form_data" in answer.text:
                    return
            await asyncio.sleep(0.3)
    raise RuntimeError("the requests service never learned of the published service")


def main(argv: list[str]) -> int:
    unknown = set(FAULTS) - set(KINDS)
    if unknown:
        print(f"unknown SOAK_FAULTS {sorted(unknown)}; known: {', '.join(KINDS)}")
        return 2
    if argv[:1] == ["consume"]:
        asyncio.run(consume(argv[1], argv[2]))
        return 0
    return asyncio.run(soak(Path(tempfile.mkdtemp(prefix="portal-soak-"))))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
