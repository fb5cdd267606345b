"""List latency with 10,000 and then 1,000,000 requests in the table: the ratio should stay
near 1, because every listing is a keyset scan of an index that starts with the caller's
scope (agency or applicant) and the order, never an offset or a count of the table.

The requests service runs as a real process; rows are bulk-loaded with SQL (what the API
would write, at a speed the API is not for); each listing is timed over sequential calls.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import httpx

from bench.harness import ServiceProcess, infra, percentile, ratio_table
from portal_shared.db import asyncpg_dsn
from portal_testing.service import TestIssuer, serve_jwks

CALLS = 300
AGENCIES = 20
AGENCY = uuid.uuid5(uuid.NAMESPACE_URL, "urn:baikonur-portal:agency:BKR-MIGRATION")
RESIDENT = uuid.uuid4()
SERVICE = uuid.uuid4()

_LOAD = """
INSERT INTO requests (id, number, service_id, service_version, agency_id, applicant_id, status,
                      form_data, submitted_at, timezone, due_date, version, updated_at)
SELECT gen_random_uuid(), 'BKR-2026-' || lpad(g::text, 9, '0'), $1, 1,
       CASE WHEN g % $5 = 0 THEN $2 ELSE gen_random_uuid() END,
       CASE WHEN g % 50000 = 0 THEN $3 ELSE gen_random_uuid() END,
       (ARRAY['submitted','in_review','needs_info','approved','completed'])[1 + (g / 7) % 5],
       '{"full_name": "Demo Resident"}'::jsonb,
       timestamptz '2026-01-01' + (g || ' seconds')::interval, 'Asia/Qyzylorda',
       date '2026-01-10' + (g / 100000)::int, 1,
       timestamptz '2026-01-01' + (g || ' seconds')::interval
FROM generate_series($4::bigint, $6::bigint) AS g
"""


async def load(dsn: str, first: int, last: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(_LOAD, SERVICE, AGENCY, RESIDENT, first, AGENCIES, last)
        await conn.execute("ANALYZE requests")
    finally:
        await conn.close()


def sample(client: httpx.Client, path: str, headers: dict[str, str]) -> list[float]:
    for _ in range(20):  # warm the connection, the plan cache and the page cache
        client.get(path, headers=headers).raise_for_status()
    timings = []
    for _ in range(CALLS):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        timings.append(time.perf_counter() - started)
        response.raise_for_status()
    return timings


def measure_all(base: str, issuer: TestIssuer) -> dict[str, tuple[float, float]]:
    officer = issuer.headers(roles=["officer"], agency_id=AGENCY, ttl=3600)
    resident = issuer.headers(roles=["resident"], sub=RESIDENT, ttl=3600)
    admin = issuer.headers(roles=["admin"], ttl=3600)
    listings = {
        "officer: agency's newest 50": ("/api/v1/requests?limit=50", officer),
        "officer: in_review, newest 50": ("/api/v1/requests?status=in_review&limit=50", officer),
        "resident: own requests": ("/api/v1/requests?limit=50", resident),
        "admin: all, newest 200": ("/api/v1/requests?limit=200", admin),
    }
    out = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for name, (path, headers) in listings.items():
            timings = sample(client, path, headers)
            out[name] = (percentile(timings, 50) * 1000, percentile(timings, 99) * 1000)
    return out


def run() -> None:
    issuer = TestIssuer()
    with infra() as servers, serve_jwks(issuer) as jwks:
        url = servers.postgres.database_url("requests_bench")
        service = ServiceProcess(
            "service_requests", url, servers.broker.bootstrap_servers, jwks, servers.folder
        )
        service.start()
        try:
            dsn = asyncpg_dsn(url)
            asyncio.run(load(dsn, 1, 10_000))
            small = measure_all(service.url, issuer)
            asyncio.run(load(dsn, 10_001, 1_000_000))
            large = measure_all(service.url, issuer)
        finally:
            service.stop()
    rows = []
    for name in small:
        rows.append((f"{name} @10k", [small[name][0], small[name][1]]))
        rows.append((f"{name} @1M", [large[name][0], large[name][1]]))
    print(f"List latency (ms), {CALLS} sequential calls per row; ratio: 1M row / its 10k row")
    for i in range(0, len(rows), 2):
        print(ratio_table("", ["p50 ms", "p99 ms"], rows[i : i + 2]).split("\n", 2)[-1])
    worst = max(large[n][0] / small[n][0] for n in small)
    print(f"aim: p50 ratio under 1.5; worst measured {worst:.2f}")


if __name__ == "__main__":
    run()
