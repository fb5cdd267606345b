"""What the gateway costs: the same service called directly, through the gateway, and via nginx.

All rows are measured in one run on this machine with wrk (`-t2 -c32`, as in
INFRA.md), so the ratios compare like with like even though the absolute
numbers depend on what else the machine is doing; the rows are run in rounds
and each ratio is the median of the per-round ratios. Rows:

- direct: wrk -> the service (a bare FastAPI endpoint, one uvicorn worker)
- gateway: wrk -> gateway -> service, on a public route (no token)
- gateway + token: the same on a protected route with a bearer token checked at the edge
- gateway + redis: the gateway route, by a second gateway whose limits are counted in
  Redis (the embedded Valkey), as every replica of a production deployment does
- nginx: wrk -> nginx `proxy_pass` with upstream keep-alive -> service (the reference)

Needs `wrk`, and `nginx` for the reference row (`make bench-deps` installs both
from Debian); nothing is installed at run time. `BENCH_DURATION` (seconds per
row, default 5), `BENCH_ROUNDS` (default 3) and `BENCH_CONNECTIONS` (default 32)
tune the run; results are also written to bench/results/gateway.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from portal_embedded.broker import free_port, wait_for_port
from portal_embedded.redis import EmbeddedRedis
from portal_testing.service import TestIssuer

DURATION = int(os.environ.get("BENCH_DURATION", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
RESULTS = Path(__file__).resolve().parent / "results"
# The aim for the gateway.
AIM_THROUGHPUT = 0.70
AIM_ADDED_P50_MS = 2.0
# Issue 16: with its limits in Redis, the gateway keeps this share of direct throughput.
AIM_REDIS_THROUGHPUT = 0.85
# Real limits, only so high that wrk's one address and one token are never refused.
BENCH_LIMITS = dict.fromkeys(
    (
        "LIMIT_PER_ADDRESS",
        "LIMIT_REGISTRATION_PER_ADDRESS",
        "LIMIT_WRITES_PER_SUBJECT",
        "LIMIT_SUBMISSIONS_PER_SUBJECT",
    ),
    "1000000000/minute",
)

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream service {{ server 127.0.0.1:{upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://service;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
    }}
}}
"""


@dataclass
class Row:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{text}")
    return match.group(1)


def _ms(value: str) -> float:
    unit = re.sub(r"[\d.]", "", value)
    return float(value.removesuffix(unit)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    name: str, url: str, headers: dict[str, str] | None = None, script: Path | None = None
) -> Row:
    """One wrk run after a warm-up; `script` is a Lua file (e.g. POSTs with their bodies)."""
    args = ["wrk", "-t2", f"-c{CONNECTIONS}", "--latency"]
    if script is not None:
        args += ["-s", str(script)]
    for key, value in (headers or {}).items():
        args += ["-H", f"{key}: {value}"]
    # A short warm-up fills connection pools and caches before the measured run.
    subprocess.run([*args, "-d2s", url], check=True, capture_output=True)
    out = subprocess.run([*args, f"-d{DURATION}s", url], check=True, capture_output=True, text=True)
    text = out.stdout
    rps = float(_find(r"Requests/sec:\s+([\d.]+)", text))
    p50 = _ms(_find(r"\s50%\s+(\S+)", text))
    p99 = _ms(_find(r"\s99%\s+(\S+)", text))
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text):
        errors += int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    ):
        errors += sum(int(g) for g in match.groups())
    return Row(name, rps, p50, p99, errors)


class Processes:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, args: list[str], port: int, env: dict[str, str] | None = None
    ) -> None:
        log = (self.folder / f"{name}.log").open("ab")
        self.started.append(
            subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )
        )
        wait_for_port("127.0.0.1", port, timeout=30)

    def stop(self) -> None:
        for process in reversed(self.started):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def table(rounds: list[dict[str, Row]]) -> tuple[str, dict[str, float], dict[str, float]]:
    """Each target's median over the rounds, with ratios taken against the direct row of the
    same round (the machine's load drifts between rounds; within a round it moves less)."""
    head = ("target", "req/s", "vs direct", "p50 ms", "+p50 ms", "p99 ms", "errors")
    lines = ["{:<18}{:>10}{:>11}{:>9}{:>9}{:>9}{:>8}".format(*head)]
    ratios: dict[str, float] = {}
    added: dict[str, float] = {}
    for name in rounds[0]:
        rows = [r[name] for r in rounds]
        ratios[name] = statistics.median(
            r[name].requests_per_second / r["direct"].requests_per_second for r in rounds
        )
        added[name] = statistics.median(r[name].p50_ms - r["direct"].p50_ms for r in rounds)
        lines.append(
            f"{name:<18}{statistics.median(r.requests_per_second for r in rows):>10.0f}"
            f"{ratios[name]:>10.0%} {statistics.median(r.p50_ms for r in rows):>8.2f}"
            f"{added[name]:>+9.2f}{statistics.median(r.p99_ms for r in rows):>9.2f}"
            f"{sum(r.errors for r in rows):>8}"
        )
    return "\n".join(lines), ratios, added


def run() -> None:
    if shutil.which("wrk") is None:
        print("wrk is not installed: run `make bench-deps` (apt-get install wrk nginx-light)")
        return
    nginx = shutil.which("nginx")
    issuer = TestIssuer()
    folder = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    procs = Processes(folder)
    rounds: list[dict[str, Row]] = []
    stop_redis: Callable[[], None] = lambda: None  # noqa: E731 - until Redis is started
    try:
        upstream = free_port()
        procs.start(
            "service",
            [sys.executable, "-m", "bench.gateway_upstream", str(upstream)],
            upstream,
            {"JWKS_JSON": json.dumps(issuer.jwks())},
        )
        base = f"http://127.0.0.1:{upstream}"
        gateway_env = {
            "PUBLIC_URL": "http://localhost:8000",
            "JWKS_URL": f"{base}/auth/jwks",
            "CATALOG_URL": base,
            "REQUESTS_URL": base,
            **BENCH_LIMITS,
        }
        gateway = free_port()
        procs.start(
            "gateway",
            [sys.executable, "-m", "gateway", "serve"],
            gateway,
            {**gateway_env, "PORT": str(gateway)},
        )
        redis = EmbeddedRedis(free_port(), log_file=folder / "redis.log")
        redis.start()
        stop_redis = redis.stop
        shared = free_port()
        procs.start(
            "gateway-redis",
            [sys.executable, "-m", "gateway", "serve"],
            shared,
            {**gateway_env, "PORT": str(shared), "REDIS_URL": redis.url},
        )
        nginx_port = None
        if nginx is None:
            print("nginx is not installed: the reference row is skipped (`make bench-deps`)")
        else:
            nginx_port = free_port()
            conf = folder / "nginx.conf"
            conf.write_text(NGINX_CONF.format(dir=folder, upstream=upstream, port=nginx_port))
            procs.start(
                "nginx", [nginx, "-c", str(conf), "-e", str(folder / "error.log")], nginx_port
            )
        path = "/api/v1/services/9f0c"
        token = issuer.token(roles=["resident"], ttl=3600)
        for _ in range(ROUNDS):
            rows = {"direct": wrk("direct", base + path)}
            rows["gateway"] = wrk("gateway", f"http://127.0.0.1:{gateway}{path}")
            rows["gateway + token"] = wrk(
                "gateway + token",
                f"http://127.0.0.1:{gateway}/api/v1/requests/9f0c",
                {"Authorization": f"Bearer {token}"},
            )
            rows["gateway + redis"] = wrk("gateway + redis", f"http://127.0.0.1:{shared}{path}")
            if nginx_port is not None:
                rows["nginx"] = wrk("nginx", f"http://127.0.0.1:{nginx_port}{path}")
            rounds.append(rows)
    finally:
        procs.stop()
        stop_redis()
    print(
        f"wrk -t2 -c{CONNECTIONS}, {DURATION} s per row, median of {ROUNDS} rounds,"
        f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, {time.ctime()}"
    )
    text, ratios, added = table(rounds)
    print(text)
    throughput, p50 = ratios["gateway"], added["gateway"]
    print(
        f"aim: >= {AIM_THROUGHPUT:.0%} of direct throughput -> {throughput:.0%}"
        f" ({'met' if throughput >= AIM_THROUGHPUT else 'missed'}); "
        f"<= {AIM_ADDED_P50_MS} ms added at p50 -> {p50:+.2f} ms"
        f" ({'met' if p50 <= AIM_ADDED_P50_MS else 'missed'})"
    )
    shared_ratio = ratios["gateway + redis"]
    print(
        f"aim (limits in Redis): >= {AIM_REDIS_THROUGHPUT:.0%} of direct throughput ->"
        f" {shared_ratio:.0%} ({'met' if shared_ratio >= AIM_REDIS_THROUGHPUT else 'missed'});"
        f" {shared_ratio / throughput:.0%} of the in-process gateway's"
    )
    RESULTS.mkdir(exist_ok=True)
    results = [{k: asdict(v) for k, v in r.items()} for r in rounds]
    (RESULTS / "gateway.json").write_text(json.dumps(results, indent=2))
