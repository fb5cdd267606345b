"""What the benchmarks share: embedded servers, a JWKS endpoint for test tokens, service
processes run as in production (uvicorn, uvloop), a published state service put into the
requests service's local copy over Kafka, latency sampling and a ratio table."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
from aiokafka import AIOKafkaProducer

from portal_embedded.broker import EmbeddedBroker, free_port
from portal_embedded.postgres import EmbeddedPostgres
from portal_shared.events import CONTRACT_TOPICS, CloudEvent, ensure_topics, with_dead_letters
from portal_testing.service import TEST_ISSUER


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


# The form of the benchmarks' state service: a purpose, and a free note that makes every
# submission's body distinct.
BENCH_FORM: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["purpose"],
    "additionalProperties": False,
    "properties": {
        "purpose": {"type": "string", "enum": ["work", "study", "family"]},
        "note": {"type": "string", "maxLength": 200},
    },
}


@dataclass(frozen=True)
class PublishedService:
    agency_id: UUID
    service_id: UUID


def _events(published: PublishedService) -> tuple[CloudEvent, CloudEvent]:
    """The directory's and the catalog's events, with the payloads CONTRIBUTING.md gives."""
    now = datetime.now(UTC).isoformat()
    agency: dict[str, Any] = {
        "id": str(published.agency_id),
        "code": f"BKR-B{published.agency_id.hex[:8].upper()}",
        "name": {"kk": "Агенттік", "ru": "Агентство", "en": "Bench agency"},
        "kind": "department",
        "parent_id": None,
        "bin": "140740190074",
        "city": "Baikonur",
        "address": "Baikonur, Gagarin street, 12",
        "timezone": "Asia/Qyzylorda",
        "working_hours": {},
        "contacts": {},
        "status": "active",
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    service: dict[str, Any] = {
        "id": str(published.service_id),
        "code": f"SVC-B{published.service_id.hex[:6].upper()}",
        "name": {"kk": "Қызмет", "ru": "Услуга", "en": "Bench service"},
        "description": {"kk": "", "ru": "", "en": ""},
        "agency_id": str(published.agency_id),
        "term_working_days": 5,
        "fee": {"amount": 0, "currency": "KZT"},
        "result": {"kk": "", "ru": "", "en": ""},
        "required_documents": [],
        "refusal_grounds": [{"code": "incomplete", "title": {"kk": "", "ru": "", "en": ""}}],
        "channels": ["online"],
        "form_schema": BENCH_FORM,
        "status": "published",
        "version": 1,
        "published_at": now,
        "updated_at": now,
    }
    return (
        CloudEvent(
            type="directory.agency.registered.v1",
            source="/directory",
            subject=str(published.agency_id),
            data=agency,
        ),
        CloudEvent(
            type="catalog.service.published.v1",
            source="/catalog",
            subject=str(published.service_id),
            data=service,
        ),
    )


async def publish_service(bootstrap: str, partitions: int = 6) -> PublishedService:
    """Produce an agency and a published service as the directory and catalog would, so the
    requests service's consumers put them into its local copy; topics are created first
    with the services' partition count (the broker would otherwise pick its own)."""
    published = PublishedService(agency_id=uuid4(), service_id=uuid4())
    await ensure_topics(bootstrap, with_dead_letters(CONTRACT_TOPICS), partitions=partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        agency, service = _events(published)
        for topic, event in (("directory.agency", agency), ("catalog.service", service)):
            await producer.send_and_wait(
                topic, value=event.value(), key=event.subject.encode(), headers=event.headers()
            )
    finally:
        await producer.stop()
    return published


async def wait_until_accepting(
    url: str, published: PublishedService, token: str, within: float = 60.0
) -> None:
    """Until a submission to `url` (POST /api/v1/requests) is accepted: the copy has the
    service. The probe's request is a real one; the caller counts it if it matters."""
    body = {"service_id": str(published.service_id), "form_data": {"purpose": "work"}}
    async with httpx.AsyncClient(timeout=5.0) as client:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                answer = await client.post(
                    f"{url}/api/v1/requests",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                )
                if answer.status_code == 201:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not accept a submission within {within:.0f} s")
