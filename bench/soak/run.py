"""The whole soak: start a portal on free ports, load it while injecting faults, then check."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import httpx

from bench.harness import publish_service
from bench.soak.checker import effects_schema
from bench.soak.checks import check, drain, fetch, read_topic
from bench.soak.config import CONCURRENCY, FAULT_EVERY, FAULTS, RATE, RESIDENTS, SECONDS, TOPIC
from bench.soak.load import Counts, Load, wait_published
from bench.soak.procs import Proc
from bench.submissions import GATEWAY_LIMITS
from portal_embedded.broker import EmbeddedBroker, free_port
from portal_embedded.postgres import EmbeddedPostgres
from portal_embedded.proxy import TcpProxy
from portal_shared.db import make_engine
from portal_shared.migrations import ensure_database
from portal_testing.service import TestIssuer, serve_jwks


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
                await conn.run_sync(effects_schema)
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
            await wait_published(load)
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
