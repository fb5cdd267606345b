"""Rate limits counted where every gateway replica sees them: Redis (Valkey), via `limits`.

With `REDIS_URL` set, each limit is a sliding-window counter in Redis (two
integer keys per caller, one Lua script per check), so three or twelve
replicas enforce one budget, not one each. Without it (a single gateway,
`make run`), the same counters live in this process's memory.

When Redis cannot be reached, a limit either lets the request through
(fail-open) or refuses it with 503 (fail-closed), as its `Policy` says; both
count in `portal_gateway_limit_store_errors_total` and log one line per
outage. A failed store is not asked again for `STORE_RETRY_AFTER` seconds, so
an outage costs the callers nothing beyond the first timeout.

A generous ceiling need not be exact, and asking Redis on every request would
cost the gateway a round trip per request: a `Policy` with `batch` > 1 counts
locally and reports every `batch` requests of one caller at once (with that
cost), and remembers a refusal locally until it expires. Each replica then
lets at most `batch - 1` requests per caller past the shared count.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import SlidingWindowCounterSupport, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from prometheus_client import Counter

log = structlog.get_logger(__name__)

STORE_ERRORS = Counter(
    "portal_gateway_limit_store_errors_total",
    "Limit checks the shared store (Redis) could not answer, by limit and what was done",
    ["limit", "outcome"],
)
# Seconds a store that failed is left alone before the next check tries it again.
STORE_RETRY_AFTER = 1.0
# Most requests of one caller an approximate limit counts locally between reports.
MAX_BATCH = 20
# Most callers remembered locally (pending counts, refusals); past it they are forgotten.
MAX_LOCAL_KEYS = 100_000


@dataclass(frozen=True)
class Policy:
    """One named limit: its rate (`limits` notation, e.g. "6000/minute") and outage rule."""

    name: str
    rate: RateLimitItem
    # Redis down: True lets the request through, False refuses it (503, retry shortly).
    fail_open: bool
    # Requests counted locally per caller before one report to the store (1: every one).
    batch: int = 1

    @classmethod
    def of(cls, name: str, rate: str, *, fail_open: bool, approximate: bool = False) -> Policy:
        item = parse(rate)
        # Approximate: up to 1% of the limit, at most MAX_BATCH, stays local between reports.
        batch = min(MAX_BATCH, max(1, item.amount // 100)) if approximate else 1
        return cls(name, item, fail_open, batch)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    # Seconds until a request would be allowed again (refused), 0 if allowed.
    retry_after: float = 0.0
    # The store could not be asked (and the policy decided).
    store_down: bool = False


def storage_uri(redis_url: str | None) -> str:
    """The `limits` storage for a `REDIS_URL` (spoken to with the valkey client), or memory."""
    if not redis_url:
        return "async+memory://"
    scheme, sep, rest = redis_url.partition("://")
    if not sep:
        raise ValueError("REDIS_URL must look like redis://host:port/db")
    # valkey-py speaks to Redis and Valkey servers alike; `limits` picks it by the scheme.
    mapped = {"redis": "valkey", "rediss": "valkeys", "valkey": "valkey", "valkeys": "valkeys"}
    if scheme not in mapped:
        raise ValueError(f"REDIS_URL scheme {scheme!r} is not redis://, rediss:// or valkey://")
    return f"async+{mapped[scheme]}://{rest}"


class SharedCounters:
    """Sliding-window counters for any number of policies, in one storage."""

    def __init__(self, redis_url: str | None, *, timeout: float) -> None:
        self.shared = bool(redis_url)
        options: dict[str, float] = {}
        if self.shared:
            # A slow Redis must not become a slow gateway: each call gives up quickly.
            options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        storage = storage_from_string(storage_uri(redis_url), wrap_exceptions=True, **options)
        # Both storages an async+ URI gives (Redis, memory) count sliding windows.
        if not isinstance(storage, Storage) or not isinstance(storage, SlidingWindowCounterSupport):
            raise TypeError(f"{type(storage).__name__} cannot count sliding windows")
        self.storage = storage
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self._down_until = 0.0
        self._pending: dict[tuple[str, str], int] = {}
        self._refused: dict[tuple[str, str], float] = {}

    async def hit(self, policy: Policy, key: str) -> Verdict:
        """Count one request by `key` against `policy`."""
        cost = 1
        if policy.batch > 1:
            local = (policy.name, key)
            until = self._refused.get(local)
            if until is not None:
                wait = until - time.monotonic()
                if wait > 0:
                    return Verdict(False, wait)
                del self._refused[local]
            cost = self._pending.pop(local, 0) + 1
            if cost < policy.batch:
                if len(self._pending) >= MAX_LOCAL_KEYS:
                    self._pending.clear()  # a flood of callers: forget, never grow unbounded
                self._pending[local] = cost
                return Verdict(True)
        if time.monotonic() < self._down_until:
            return self._store_down(policy, None)
        key_for, expiry = policy.rate.key_for(policy.name, key), policy.rate.get_expiry()
        try:
            if await self.limiter.hit(policy.rate, policy.name, key, cost=cost):
                return Verdict(True)
            window = await self.storage.get_sliding_window(key_for, expiry)
        except (StorageError, OSError, TimeoutError) as exc:
            return self._store_down(policy, exc)
        wait = _wait(policy.rate.amount, expiry, *window)
        if policy.batch > 1:
            if len(self._refused) >= MAX_LOCAL_KEYS:
                self._refused.clear()
            self._refused[(policy.name, key)] = time.monotonic() + wait
        return Verdict(False, wait)

    def _store_down(self, policy: Policy, exc: BaseException | None) -> Verdict:
        if exc is not None:
            self._down_until = time.monotonic() + STORE_RETRY_AFTER
            log.warning(
                "limit_store_unavailable",
                limit=policy.name,
                fail_open=policy.fail_open,
                error=repr(exc),
                retry_in=STORE_RETRY_AFTER,
            )
        outcome = "allowed" if policy.fail_open else "refused"
        STORE_ERRORS.labels(policy.name, outcome).inc()
        return Verdict(policy.fail_open, STORE_RETRY_AFTER, store_down=True)

    async def aclose(self) -> None:
        """Close the Redis client's connections (the memory store holds none)."""
        client: Any = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self.storage.check())
        except Exception:  # any failure means "not reachable"
            return False


def _wait(
    amount: int, expiry: int, previous: int, previous_ttl: float, current: int, current_ttl: float
) -> float:
    """Seconds until the sliding window's weighted count leaves room for one more request.

    The count is `previous * (time left of the previous window) / expiry + current`;
    the current window's key lives until one `expiry` after the window ends.
    """
    if current + 1 > amount:
        # Only once the current window is the previous one, and has decayed enough.
        ends_in = max(current_ttl - expiry, 0.0)
        wait = ends_in + expiry * (1 - (amount - 1) / current)
    elif previous:
        wait = previous_ttl - (amount - 1 - current) * expiry / previous
    else:
        wait = 1.0
    return min(max(wait, 1.0), 2.0 * expiry)


def retry_after(seconds: float) -> str:
    """The Retry-After header value: whole seconds, at least one."""
    return str(max(1, math.ceil(seconds)))
