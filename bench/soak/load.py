"""The load: residents submitting with Idempotency-Keys, officers and applicants acting."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import httpx

from bench.harness import PublishedService
from bench.soak.config import CONCURRENCY, RATE, READY_WITHIN, RETRY_FOR


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


async def wait_published(load: Load) -> None:
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
