"""Revoked means revoked: the denylist every resource server checks, and the feed that fills it.

An access token is a JWT that verifies on its own until `exp`, so a revocation
at the issuer reaches a resource server only if it is told. The identity
service tells everyone through two topics:

- `identity.token`, type `identity.token.revoked.v1`: the `jti` and `exp` of access
  tokens revoked before their expiry (RFC 7009 revocation, a replayed code, a reused
  refresh token, a revoked refresh token's grant, a logout);
- `identity.user`, types `disabled` and `updated`: an account disabled, then maybe
  enabled again. Every token of a disabled account is refused; once it is enabled
  again, a token issued before the second of its disabling still is (`iat` against the
  event's time). The identity service also revokes, by `jti`, every token it issued to
  the account before disabling it, which covers the tokens of that very second.

`RevocationList` is the in-memory denylist a `TokenVerifier` consults on every
call, cached tokens included. Entries are kept only while a token they concern
can still be unexpired: a `jti` until its `exp`, an account entry for
`MAX_TOKEN_LIFETIME` after its disabling (no token outlives that).

`RevocationFeed` keeps one list current from the broker. Every replica must see
every revocation, so it joins no consumer group (a group would share the
partitions out between the replicas): it reads all partitions itself, from the
first event that can still matter (`MAX_TOKEN_LIFETIME` ago, by timestamp), and
commits nothing. A restarted or new replica therefore learns every revocation
still in force; an older event changes nothing, so reading one twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter
from pydantic import BaseModel, Field

from portal_shared.events.clients import stop_client
from portal_shared.events.envelope import CloudEvent, MalformedEvent

log = structlog.get_logger(__name__)

TOKEN_TOPIC = "identity.token"  # noqa: S105 -- a topic name
USER_TOPIC = "identity.user"
TOKEN_REVOKED = f"{TOKEN_TOPIC}.revoked.v1"
USER_DISABLED = f"{USER_TOPIC}.disabled.v1"
USER_UPDATED = f"{USER_TOPIC}.updated.v1"
FEED_TOPICS = (TOKEN_TOPIC, USER_TOPIC)
# The longest an access token can live: the identity service caps its token lifetimes
# at this (its settings refuse more), and the verifier's clock leeway is added on top.
MAX_TOKEN_LIFETIME = 3600
MARGIN = 60.0

REVOCATIONS_APPLIED = Counter(
    "portal_revocations_applied_total", "Revocation events applied to the denylist", ["kind"]
)


class RevokedToken(BaseModel):
    jti: str
    exp: int = Field(description="the token's own expiry (seconds since the epoch)")


class TokensRevokedData(BaseModel):
    """The `data` of `identity.token.revoked.v1`: who the tokens were issued to and which."""

    sub: str = Field(description="the tokens' subject: an account id, or a client id")
    client_id: str
    reason: str = Field(
        description="revoked | code_replayed | refresh_token_reused | grant_revoked | logout"
    )
    tokens: list[RevokedToken]


@dataclass
class _Disabled:
    disabled_at: float
    enabled: bool = False


class RevocationList:
    """Token ids revoked before their expiry, and accounts disabled, with time-bounded memory."""

    def __init__(
        self,
        *,
        max_token_lifetime: float = MAX_TOKEN_LIFETIME + MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_token_lifetime = max_token_lifetime
        self.clock = clock
        self._tokens: dict[str, float] = {}
        self._subjects: dict[str, _Disabled] = {}
        self._pruned_at = clock()
        # Set once the feed has read every event that was on the broker when it started.
        self.caught_up = asyncio.Event()

    def __len__(self) -> int:
        return len(self._tokens) + len(self._subjects)

    def refusal(self, claims: Mapping[str, Any]) -> str | None:
        """Why a token with these (verified) claims is refused (the catalog key of the
        refusal), or None."""
        jti = claims.get("jti")
        if jti is not None and str(jti) in self._tokens:
            return "error.token-revoked"
        entry = self._subjects.get(str(claims.get("sub")))
        if entry is not None:
            if not entry.enabled:
                return "error.token-revoked-disabled"
            # iat is in whole seconds, so a token from the second of the disabling cannot be
            # told apart from one issued after the enabling: those are revoked by jti.
            if float(claims.get("iat", 0)) < math.floor(entry.disabled_at):
                return "error.token-revoked-predates"
        return None

    def revoke_tokens(self, tokens: Iterable[tuple[str, float]]) -> None:
        now = self.clock()
        for jti, exp in tokens:
            if exp > now:
                self._tokens[jti] = exp
        self._maybe_prune(now)

    def disable(self, subject: str, at: float) -> None:
        entry = self._subjects.get(subject)
        if entry is None or entry.enabled:
            self._subjects[subject] = _Disabled(disabled_at=at)
        self._maybe_prune(self.clock())

    def enable(self, subject: str) -> None:
        entry = self._subjects.get(subject)
        if entry is not None:
            entry.enabled = True

    def prune(self, now: float | None = None) -> None:
        """Forget what no unexpired token can match any more."""
        now = self.clock() if now is None else now
        self._tokens = {j: exp for j, exp in self._tokens.items() if exp > now}
        horizon = now - self.max_token_lifetime
        self._subjects = {s: e for s, e in self._subjects.items() if e.disabled_at > horizon}
        self._pruned_at = now

    def _maybe_prune(self, now: float) -> None:
        if now - self._pruned_at > 60:
            self.prune(now)

    def apply(self, event: CloudEvent) -> bool:
        """Take one identity event into account; False for an event that says nothing here."""
        if event.type == TOKEN_REVOKED:
            data = TokensRevokedData.model_validate(event.data)
            self.revoke_tokens((t.jti, float(t.exp)) for t in data.tokens)
            REVOCATIONS_APPLIED.labels("tokens").inc()
            return True
        if event.type not in (USER_DISABLED, USER_UPDATED):
            return False
        subject = str(uuid.UUID(str(event.data["id"])))
        at = event.time.timestamp()
        if event.type == USER_DISABLED or event.data.get("status") == "disabled":
            self.disable(subject, at)
            REVOCATIONS_APPLIED.labels("account_disabled").inc()
        elif event.data.get("status") == "active":
            self.enable(subject)
        return True


class RevocationFeed:
    """Reads the identity topics into a `RevocationList` until stopped; reconnects on failure."""

    def __init__(
        self,
        revocations: RevocationList,
        bootstrap_servers: str,
        *,
        topics: Iterable[str] = FEED_TOPICS,
        fetch_max_wait_ms: int = 20,
        name: str = "revocations",
    ) -> None:
        self.revocations = revocations
        self.bootstrap_servers = bootstrap_servers
        self.topics = list(topics)
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.name = name
        self._ends: dict[TopicPartition, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=self.fetch_max_wait_ms,
                client_id=self.name,
            )
            try:
                await consumer.start()
                partitions = self._partitions(consumer)
                if partitions is None:
                    # The services create the topics at start-up; a new client sees them.
                    await _sleep_unless(stop, 1.0)
                    continue
                consumer.assign(partitions)
                await self._seek(consumer, partitions)
                backoff = 0.2
                await self._poll(consumer, partitions, stop)
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                log.warning("revocation_feed_retry", error=repr(exc))
                await _sleep_unless(stop, backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                await stop_client(consumer)

    def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition] | None:
        """Every partition of the feed's topics, from the metadata fetched at start."""
        found = {t: consumer.partitions_for_topic(t) for t in self.topics}
        if not all(found.values()):
            return None
        return [TopicPartition(t, p) for t, ps in found.items() for p in sorted(ps or ())]

    async def _seek(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        since = int((time.time() - self.revocations.max_token_lifetime) * 1000)
        try:
            found = await consumer.offsets_for_times(dict.fromkeys(partitions, since))
        except (KafkaError, ValueError) as exc:
            # A broker that cannot search by time: read everything, which is only slower.
            log.info("revocation_feed_from_beginning", error=repr(exc))
            found = {}
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            hit = found.get(tp)
            if hit is not None:
                consumer.seek(tp, hit.offset)
            elif tp in found:
                consumer.seek(tp, ends[tp])  # nothing recent enough on this partition
            else:
                await consumer.seek_to_beginning(tp)
        self._ends = ends

    async def _poll(
        self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition], stop: asyncio.Event
    ) -> None:
        behind = {tp for tp in partitions if self._ends.get(tp, 0) > 0}
        while not stop.is_set():
            if behind:
                behind = {tp for tp in behind if await consumer.position(tp) < self._ends[tp]}
            if not behind:
                self.revocations.caught_up.set()
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            for records in batches.values():
                for record in records:
                    try:
                        event = CloudEvent.from_kafka(record.headers or [], record.value)
                        self.revocations.apply(event)
                    except (MalformedEvent, ValueError, KeyError, TypeError) as exc:
                        # Nothing to retry: a denylist entry cannot be made from it.
                        log.error(
                            "revocation_event_unusable",
                            topic=record.topic,
                            offset=record.offset,
                            error=str(exc)[:200],
                        )


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


__all__ = [
    "FEED_TOPICS",
    "MAX_TOKEN_LIFETIME",
    "TOKEN_REVOKED",
    "TOKEN_TOPIC",
    "USER_DISABLED",
    "USER_TOPIC",
    "USER_UPDATED",
    "RevocationFeed",
    "RevocationList",
    "RevokedToken",
    "TokensRevokedData",
]
