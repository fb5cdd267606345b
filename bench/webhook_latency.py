"""Event-to-delivered webhook latency, against the raw consume latency of the same broker in
the same run; and deliveries per second with 1,000 subscriptions, against bare signed POSTs
to the same receiver.

The notifications service runs as in production (`python -m notifications serve`, its own
process). Latency: a `requests.request.submitted.v1` event is produced (t0); the
service's webhooks consumer records its delivery (a fetched batch at a time) and wakes the
delivery worker, which signs it and POSTs it through the SSRF guard to a local receiver
(aiohttp, in a process of its own, as the SMTP sink of bench.notification_latency) that
notes when the request arrived (t1). One active subscription; 1,000 events at a steady
200/s, each of its own request. Baseline: a bare produce -> consume of the same number of
events at the same rate (bench.event_latency). The issue's aim: p99 under 250 ms.

Throughput: 1,000 active subscriptions of one agency, each to its own path of the
receiver; a burst of events, each owed to every subscription; deliveries per second from
the first event produced to the last delivery received. Baseline: the same number of
signed POSTs sent straight to the receiver by one httpx client, as many at once as the
worker sends to one host (no broker, no database). The receiver notes requests and does
not verify them (acceptance 1's test does, with `standardwebhooks`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.event_latency import raw_round_trip
from bench.harness import Infra, ServiceProcess, infra, percentile, ratio_table
from notifications.settings import NotificationsSettings
from notifications.webhooks.models import Delivery
from notifications.webhooks.service import new_secret
from notifications.webhooks.signing import headers as signed
from portal_embedded.broker import free_port
from portal_shared.db import make_engine
from portal_shared.events import CloudEvent
from portal_testing.service import TestIssuer, serve_jwks

EVENTS = 1000
# 200 events/s, steady.
INTERVAL = 0.005
TOPIC = "requests.request"
SUBSCRIPTIONS = 1000
# Events of the throughput burst: each is owed to every subscription.
BURST = 20
AGENCY = uuid.uuid4()
# The worker's concurrency to one host (its default), which the bare baseline uses too.
CONNECTIONS = NotificationsSettings.model_fields["webhooks_host_connections"].default
# Where the latency goes, from the service's own timestamps (wall clock, same machine).
STAGES: dict[str, list[float]] = {
    "recorded (delivery row committed)": [],
    "recorded -> marked delivered": [],
}


def _serve(port: int, log: Path, ready: Any, stop: Any) -> None:
    """The receiver's own process: it must not share the service's event loop or CPU
    slice. Each request is noted as `<monotonic seconds>\t<webhook-id>\t<path>`."""

    async def main() -> None:
        notes = log.open("a", buffering=1, encoding="utf-8")

        async def receive(request: web.Request) -> web.Response:
            await request.read()
            # CLOCK_MONOTONIC is one clock for every process of the machine.
            notes.write(f"{time.monotonic()}\t{request.headers['webhook-id']}\t{request.path}\n")
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/{path:.*}", receive)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.to_thread(stop.wait)
        await runner.cleanup()
        notes.close()

    asyncio.run(main())


def _received(log: Path) -> list[tuple[float, str, str]]:
    if not log.exists():
        return []
    rows = []
    for line in log.read_text(encoding="utf-8").splitlines():
        at, webhook_id, path = line.split("\t")
        rows.append((float(at), webhook_id, path))
    return rows


async def _until(log: Path, count: int, within: float) -> list[tuple[float, str, str]]:
    deadline = time.monotonic() + within
    while True:
        rows = _received(log)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.1)


def _event(number: int) -> CloudEvent:
    request_id = uuid.uuid4()
    return CloudEvent(
        type=f"{TOPIC}.submitted.v1",
        source="/requests",
        subject=str(request_id),
        data={
            "id": str(request_id),
            "number": f"BENCH-{number:06d}",
            "status": "submitted",
            "previous_status": None,
            "service_id": str(uuid.uuid4()),
            "service_version": 1,
            "agency_id": str(AGENCY),
            "due_date": date(2026, 12, 31).isoformat(),
            "version": 1,
            "occurred_at": datetime.now(UTC).isoformat(),
            "applicant_id": str(uuid.uuid4()),
        },
    )


async def _subscribe(
    service: ServiceProcess, engine: AsyncEngine, headers: dict[str, str], base: str, count: int
) -> None:
    """`count` subscriptions of the agency's system, each to its own path, made through
    the API (pending, then validated by the worker); returns once every one is active."""
    async with httpx.AsyncClient(base_url=service.url, headers=headers, timeout=30) as client:
        for _ in range(count):
            made = await client.post(
                "/api/v1/subscriptions",
                json={"url": f"{base}/s/{uuid.uuid4()}", "types": ["requests.request.*"]},
            )
            made.raise_for_status()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            waiting = await conn.scalar(
                text("SELECT count(*) FROM webhook_subscriptions WHERE status <> 'active'")
            )
        if waiting == 0:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{waiting} of the subscriptions were not validated")


async def _produce(
    bootstrap: str, events: list[CloudEvent], interval: float
) -> dict[str, tuple[float, float]]:
    """Produce the events (`interval` apart; 0: a burst); when each was sent (monotonic,
    and wall clock for the service's own timestamps)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    sent: dict[str, tuple[float, float]] = {}
    try:
        for event in events:
            sent[event.id] = (time.monotonic(), time.time())
            await producer.send(
                TOPIC, event.value(), key=event.subject.encode(), headers=event.headers()
            )
            if interval:
                await asyncio.sleep(interval)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def _stages(engine: AsyncEngine, sent: dict[str, tuple[float, float]]) -> None:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT event_id, extract(epoch FROM created_at), extract(epoch FROM delivered_at)"
                " FROM webhook_deliveries WHERE event_id = ANY(:ids)"
            ),
            {"ids": list(sent)},
        )
        for event_id, created, delivered in rows:
            STAGES["recorded (delivery row committed)"].append(float(created) - sent[event_id][1])
            if delivered is not None:
                STAGES["recorded -> marked delivered"].append(float(delivered) - float(created))


async def webhook_round_trips(
    servers: Infra, jwks: str, issuer: TestIssuer
) -> tuple[list[float], float, float]:
    """(latencies at 200 events/s, deliveries/s with SUBSCRIPTIONS subscriptions, bare
    signed POSTs/s to the same receiver), the service run as in production."""
    log = servers.folder / "received.tsv"
    port = free_port()
    spawn = multiprocessing.get_context("spawn")
    ready, stop = spawn.Event(), spawn.Event()
    receiver = spawn.Process(target=_serve, args=(port, log, ready, stop))
    receiver.start()
    await asyncio.to_thread(ready.wait, 60)
    base = f"http://127.0.0.1:{port}"
    bootstrap = servers.broker.bootstrap_servers
    url = servers.postgres.database_url("notifications_bench")
    service = ServiceProcess(
        "notifications",
        url,
        bootstrap,
        jwks,
        servers.folder,
        extra_env={"WEBHOOKS_ALLOW_HTTP_LOOPBACK": "true"},
    )
    headers = issuer.headers(
        sub="bench-system",
        client_id="bench-system",
        roles=[],
        agency_id=AGENCY,
        scope="events:subscribe",
        ttl=3600,
    )
    engine = make_engine(url)
    try:
        await asyncio.to_thread(service.start)
        # Latency: one subscription, a steady 200 events/s, once a first event has gone
        # through (the consumer has joined its group).
        await _subscribe(service, engine, headers, base, 1)
        await _produce(bootstrap, [_event(-1)], 0)
        await _until(log, 2, 120)
        events = [_event(i) for i in range(EVENTS)]
        sent = await _produce(bootstrap, events, INTERVAL)
        arrived = {
            webhook_id: at
            for at, webhook_id, _ in await _until(log, 2 + EVENTS, 120)
            if webhook_id in sent
        }
        latencies = [arrived[i] - t0 for i, (t0, _) in sent.items() if i in arrived]
        await _stages(engine, sent)
        # Throughput: SUBSCRIPTIONS subscriptions, a burst of events owed to each.
        await _subscribe(service, engine, headers, base, SUBSCRIPTIONS - 1)
        before = len(_received(log))
        owed = BURST * SUBSCRIPTIONS
        burst = await _produce(bootstrap, [_event(EVENTS + i) for i in range(BURST)], 0)
        rows = (await _until(log, before + owed, 600))[before:]
        delivered = [at for at, webhook_id, _ in rows if webhook_id in burst]
        first = min(t0 for t0, _ in burst.values())
        per_second = len(delivered) / (max(delivered) - first)
        bare = await _bare_posts(base, owed, CONNECTIONS)
    finally:
        await engine.dispose()
        await asyncio.to_thread(service.stop)
        stop.set()
        await asyncio.to_thread(receiver.join, 30)
    return latencies, per_second, bare


async def _bare_posts(base: str, count: int, concurrency: int) -> float:
    """Signed POSTs of a submitted event's body straight to the receiver, `concurrency` at
    once over one client: what sending alone costs here. Returns POSTs per second."""
    event = _event(0)
    body = event.value()
    at_once = asyncio.Semaphore(concurrency)
    secret = new_secret()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    row = Delivery(
        id=uuid.uuid4(),
        subscription_id=uuid.uuid4(),
        event_id=event.id,
        event_type=event.type,
        source=event.source,
        subject=event.subject,
        event_time=event.time,
        data=event.data,
        status="pending",
        next_attempt_at=event.time,
        created_at=event.time,
    )

    async with httpx.AsyncClient(limits=limits) as client:

        async def one(i: int) -> None:
            async with at_once:
                sign = signed(row, body, [secret], datetime.now(UTC))
                await client.post(f"{base}/bare/{i % SUBSCRIPTIONS}", content=body, headers=sign)

        started = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(count)))
        return count / (time.monotonic() - started)


async def measure() -> tuple[list[float], list[float], float, float]:
    issuer = TestIssuer()
    with infra(fsync=True) as servers, serve_jwks(issuer) as jwks:
        raw = await raw_round_trip(servers.broker.bootstrap_servers)
        latencies, per_second, bare = await webhook_round_trips(servers, jwks, issuer)
    return raw, latencies, per_second, bare


def report(raw: list[float], latencies: list[float], per_second: float, bare: float) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        ratio_table(
            f"Webhook latency, {EVENTS} events at {1 / INTERVAL:.0f}/s to one subscription;"
            f" {len(latencies)} of {EVENTS} delivered (load average {load})",
            ["p50 ms", "p99 ms"],
            [
                (
                    "raw aiokafka produce->consume (baseline)",
                    [percentile(raw, 50) * 1000, percentile(raw, 99) * 1000],
                ),
                (
                    "event -> recorded -> signed POST received",
                    [percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000],
                ),
            ],
        )
    ]
    for name, samples in STAGES.items():
        if samples:
            p50, p99 = percentile(samples, 50), percentile(samples, 99)
            lines.append(f"  of which {name:<36} {p50 * 1000:10.2f}{p99 * 1000:12.2f}")
    lines.append(f"aim: p99 under 250 ms; measured {percentile(latencies, 99) * 1000:.0f} ms")
    lines.append("")
    lines.append(
        ratio_table(
            f"Webhook throughput, {BURST} events x {SUBSCRIPTIONS} subscriptions"
            f" = {BURST * SUBSCRIPTIONS} deliveries",
            ["per s"],
            [
                ("bare signed POSTs, same concurrency (baseline)", [bare]),
                ("event -> every subscription's delivery", [per_second]),
            ],
        )
    )
    return "\n".join(lines)


def run() -> None:
    print(report(*asyncio.run(measure())))


if __name__ == "__main__":
    run()
