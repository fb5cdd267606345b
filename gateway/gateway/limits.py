"""The edge's limits: body size, and request rates per client address and per token subject.

The policy (figures in gateway/README.md, where they are argued):

- `per-address`: every request, counted by client address. Generous, because a
  carrier NAT or a public-service office puts thousands of residents behind one
  address; it stops a single machine flooding the portal, nothing finer.
- `per-address-registration`: anonymous registration (`REGISTRATION_ENDPOINTS`),
  by address: each one creates an account and costs an argon2 hash.
- `per-subject-writes`: every write (not GET/HEAD/OPTIONS) with a verified token,
  by the token's subject (resident, officer or machine client), wherever it
  comes from.
- `per-subject-submissions`: submissions (`SUBMISSION_ENDPOINTS`), by subject.

Password guessing is not an edge limit: the identity service counts failed
sign-ins per account and per address, and failed client authentications per
client id, where it knows which attempts failed. A refusal is a 429 with
`Retry-After` and the limit's name as `limit` in the problem.

A body over the route's limit is refused from `Content-Length` alone, or as
soon as a chunked body passes it, so no service ever reads it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import Receive

from gateway.errors import ClientGone, LimitStoreDown
from gateway.ratelimit import Policy, SharedCounters, retry_after
from gateway.settings import GatewaySettings
from portal_shared.errors import BadRequest, PayloadTooLarge, TooManyRequests

# Methods that change nothing: not counted per subject.
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def _endpoints(entries: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    return frozenset(
        (m.upper(), p.rstrip("/") or "/") for m, _, p in (e.partition(" ") for e in entries)
    )


class EdgeLimits:
    def __init__(self, settings: GatewaySettings) -> None:
        s = settings
        self.counters = SharedCounters(s.redis_url, timeout=s.limit_store_timeout)
        # Redis down: the generous ceilings let traffic through (the services and identity's
        # own throttles still stand); account creation, the costliest anonymous act, waits.
        self.per_address = Policy.of(
            "per-address", s.limit_per_address, fail_open=True, approximate=True
        )
        self.registration = Policy.of(
            "per-address-registration", s.limit_registration_per_address, fail_open=False
        )
        self.writes = Policy.of("per-subject-writes", s.limit_writes_per_subject, fail_open=True)
        self.submissions = Policy.of(
            "per-subject-submissions", s.limit_submissions_per_subject, fail_open=True
        )
        self.registration_endpoints = _endpoints(s.registration_endpoints)
        self.submission_endpoints = _endpoints(s.submission_endpoints)

    async def address(self, method: str, path: str, client: str) -> None:
        await self._take(self.per_address, client, "address")
        if (method, path.rstrip("/") or "/") in self.registration_endpoints:
            await self._take(self.registration, client, "address")

    async def subject(self, method: str, path: str, subject: str) -> None:
        if method in READS:
            return
        await self._take(self.writes, subject, "account")
        if (method, path.rstrip("/") or "/") in self.submission_endpoints:
            await self._take(self.submissions, subject, "account")

    async def _take(self, policy: Policy, key: str, who: str) -> None:
        verdict = await self.counters.hit(policy, key)
        if verdict.allowed:
            return
        wait = retry_after(verdict.retry_after)
        if verdict.store_down:
            raise LimitStoreDown(
                message_key="error.limit-unavailable",
                params={"limit": policy.name, "seconds": wait},
                headers={"Retry-After": wait},
                limit=policy.name,
            )
        raise TooManyRequests(
            message_key=f"error.too-many-from-{who}",
            params={"seconds": wait},
            headers={"Retry-After": wait},
            limit=policy.name,
        )


def content_length(value: bytes, limit: int) -> int:
    """The declared body size, refused (413) if over `limit`."""
    # uvicorn's parser refuses most malformed values; this catches what it lets by.
    if not value.strip().isdigit():
        raise BadRequest(message_key="error.content-length-not-a-number")
    length = int(value)
    if length > limit:
        raise PayloadTooLarge(
            message_key="error.body-over-limit", params={"length": length, "limit": limit}
        )
    return length


async def receive_body(receive: Receive, limit: int) -> AsyncIterator[bytes]:
    """The caller's body, piece by piece as uvicorn reads it, cut off past `limit` bytes."""
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(message_key="error.body-past-limit", params={"limit": limit})
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body (a small one, whose size is declared), held so it can be sent again."""
    return b"".join([chunk async for chunk in receive_body(receive, limit)])
