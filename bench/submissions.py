"""Submission throughput: POST /api/v1/requests through the gateway, against two baselines.

Rows, all measured in one run with the same load generator (wrk `-t2 -c32` and a Lua
script giving every POST its own body, Idempotency-Key and one of several residents'
tokens):

- bare FastAPI + PostgreSQL: a bare endpoint doing one asyncpg transaction of a row plus
  an outbox row (bench/submit_baseline.py; INFRA.md measured ~2,400-2,700/s here)
- requests service direct: the real service, token check, form check against the
  published JSON Schema, number, history and outbox event, one uvicorn worker
- through the gateway: the same, behind the gateway (edge token check, rate limits)

The requests service gets its published service over Kafka, from the directory's and the
catalog's events produced here, as in production. The gateway's rate limits are raised
for the run (printed below), so what is measured is the path, not the limiter. Rows run
in rounds; each ratio is the median of the per-round ratios. PostgreSQL runs with fsync
off (same server for every row). `BENCH_DURATION` (default 5 s per row), `BENCH_ROUNDS`
(default 3), `BENCH_CONNECTIONS` (default 32) and `BENCH_RESIDENTS` (default 64) tune the
run; results are also written to bench/results/submissions.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from uuid import uuid4

from bench.gateway import CONNECTIONS, DURATION, RESULTS, ROUNDS, Processes, Row, wrk
from bench.harness import (
    ServiceProcess,
    infra,
    publish_service,
    wait_until_accepting,
)
from portal_embedded.broker import free_port
from portal_testing.service import TestIssuer, serve_jwks

RESIDENTS = int(os.environ.get("BENCH_RESIDENTS", "64"))
# The aim: submissions per second through the gateway on 2 cores.
AIM_PER_SECOND = 1000.0
GATEWAY_LIMITS = dict.fromkeys(
    (
        "LIMIT_PER_ADDRESS",
        "LIMIT_REGISTRATION_PER_ADDRESS",
        "LIMIT_WRITES_PER_SUBJECT",
        "LIMIT_SUBMISSIONS_PER_SUBJECT",
    ),
    "1000000000/minute",
)

# Each wrk thread has its own Lua state: `setup` numbers the threads so that keys and
# notes never collide between them; the counter makes every body and key distinct.
LUA = """
local tokens = {%(tokens)s}
local service_id = "%(service_id)s"
local path = "%(path)s"
local run = "%(run)s"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
function request()
  n = n + 1
  local token = tokens[(n + (tid or 0) * 7) %% #tokens + 1]
  local note = run .. "-" .. (tid or 0) .. "-" .. n
  local body = '{"service_id":"' .. service_id .. '","form_data":{"purpose":"work","note":"'
    .. note .. '"}}'
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = note,
  }
  return wrk.format("POST", path, headers, body)
end
"""


def _script(folder: Path, name: str, path: str, tokens: list[str], service_id: str) -> Path:
    script = folder / f"{name}.lua"
    script.write_text(
        LUA
        % {
            "tokens": ", ".join(f'"{t}"' for t in tokens),
            "service_id": service_id,
            "path": path,
            # Distinct per script, so repeated rows never replay an earlier row's key.
            "run": uuid4().hex[:8],
        }
    )
    return script


def table(rounds: list[dict[str, Row]]) -> str:
    head = ("target", "req/s", "vs bare", "vs direct", "p50 ms", "p99 ms", "errors")
    lines = ["{:<30}{:>9}{:>9}{:>11}{:>9}{:>9}{:>8}".format(*head)]
    for name in rounds[0]:
        rows = [r[name] for r in rounds]

        def ratio(base: str, name: str = name) -> float:
            return statistics.median(
                r[name].requests_per_second / r[base].requests_per_second for r in rounds
            )

        lines.append(
            f"{name:<30}{statistics.median(r.requests_per_second for r in rows):>9.0f}"
            f"{ratio('bare FastAPI + PostgreSQL'):>9.0%}{ratio('requests service direct'):>11.0%}"
            f"{statistics.median(r.p50_ms for r in rows):>9.2f}"
            f"{statistics.median(r.p99_ms for r in rows):>9.2f}"
            f"{sum(r.errors for r in rows):>8}"
        )
    return "\n".join(lines)


def run() -> None:
    if shutil.which("wrk") is None:
        print("wrk is not installed: run `make bench-deps` (apt-get install wrk nginx-light)")
        return
    issuer = TestIssuer()
    tokens = [issuer.token(sub=uuid4(), roles=["resident"], ttl=3600) for _ in range(RESIDENTS)]
    rounds: list[dict[str, Row]] = []
    with infra() as servers, serve_jwks(issuer) as jwks_url:
        folder = servers.folder
        procs = Processes(folder)
        requests = ServiceProcess(
            "service_requests",
            servers.postgres.database_url("requests"),
            servers.broker.bootstrap_servers,
            jwks_url,
            folder,
        )
        try:
            baseline = free_port()
            procs.start(
                "baseline",
                [sys.executable, "-m", "bench.submit_baseline", str(baseline)],
                baseline,
                {"DATABASE_URL": servers.postgres.database_url("postgres")},
            )
            requests.start()
            published = asyncio.run(publish_service(servers.broker.bootstrap_servers))
            asyncio.run(wait_until_accepting(requests.url, published, tokens[0]))
            gateway = free_port()
            procs.start(
                "gateway",
                [sys.executable, "-m", "gateway", "serve"],
                gateway,
                {
                    "PORT": str(gateway),
                    "PUBLIC_URL": "http://localhost:8000",
                    "JWKS_URL": jwks_url,
                    "REQUESTS_URL": requests.url,
                    "LOG_LEVEL": "WARNING",
                    **GATEWAY_LIMITS,
                },
            )
            sid = str(published.service_id)
            for _ in range(ROUNDS):
                rows: dict[str, Row] = {}
                targets = {
                    "bare FastAPI + PostgreSQL": (f"http://127.0.0.1:{baseline}", "/submit"),
                    "requests service direct": (requests.url, "/api/v1/requests"),
                    "through the gateway": (f"http://127.0.0.1:{gateway}", "/api/v1/requests"),
                }
                for name, (base, path) in targets.items():
                    script = _script(folder, name.replace(" ", "-"), path, tokens, sid)
                    rows[name] = wrk(name, base + path, script=script)
                rounds.append(rows)
        finally:
            procs.stop()
            requests.stop()
    print(
        f"wrk -t2 -c{CONNECTIONS} POST, {DURATION} s per row, median of {ROUNDS} rounds,"
        f" {RESIDENTS} residents, {os.cpu_count()} CPUs, load average"
        f" {os.getloadavg()[0]:.1f}, {time.ctime()}"
    )
    print(
        "gateway rate limits raised for the run: "
        + ", ".join(f"{k}={v}" for k, v in GATEWAY_LIMITS.items())
    )
    print(table(rounds))
    gateway_rps = statistics.median(r["through the gateway"].requests_per_second for r in rounds)
    print(
        f"aim: >= {AIM_PER_SECOND:.0f} submissions/s through the gateway -> {gateway_rps:.0f}"
        f" ({'met' if gateway_rps >= AIM_PER_SECOND else 'missed'})"
    )
    RESULTS.mkdir(exist_ok=True)
    results = [{k: asdict(v) for k, v in r.items()} for r in rounds]
    (RESULTS / "submissions.json").write_text(json.dumps(results, indent=2))
