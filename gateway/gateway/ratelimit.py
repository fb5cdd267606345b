"""Token-bucket rate limits kept in this process's memory.

One gateway replica is what the portal runs; with several, each replica would
count on its own and a caller would get up to N times the limit (put the
buckets in a shared store such as PostgreSQL or Redis before scaling out).
Buckets refill continuously; a full bucket is the same as no bucket, so idle
ones are swept away and memory stays bounded by the number of recent callers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    per_second: float
    burst: int


class TokenBuckets:
    """Buckets for one limit, keyed by caller (address or token subject)."""

    def __init__(self, limit: Limit, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.max_keys = max_keys
        # key -> (tokens left, when they were counted)
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """Spend one token for `key`: 0.0 if allowed, else the seconds until one is free."""
        now = time.monotonic()
        rate, burst = self.limit.per_second, float(self.limit.burst)
        tokens, at = self._buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - at) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_keys:
                self._sweep(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate

    def _sweep(self, now: float) -> None:
        # Buckets that have refilled completely carry no information.
        refill = self.limit.burst / self.limit.per_second
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}
        if len(self._buckets) > self.max_keys:
            # A flood of distinct callers: forgetting them is better than growing without bound.
            self._buckets.clear()


def retry_after(seconds: float) -> str:
    """The Retry-After header value: whole seconds, at least one."""
    return str(max(1, math.ceil(seconds)))
