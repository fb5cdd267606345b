"""After the run: drain, read everything back, and list each exactly-once or order violation."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from uuid import UUID

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer

from bench.soak.config import DRAIN_SECONDS, TOPIC
from bench.soak.load import Load
from portal_shared.db import asyncpg_dsn


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
