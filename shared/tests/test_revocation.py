"""The revocation list every TokenVerifier consults, and the feed that fills it from the broker:
a revoked token is refused even from the verifier's cache, a disabled account's tokens are
refused and stay refused once it is enabled again while its new ones work, and a replica
that starts after a revocation still learns it."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import pytest

from portal_shared.errors import Unauthorized
from portal_shared.events import CloudEvent, ensure_topics, make_producer
from portal_shared.revocation import (
    TOKEN_REVOKED,
    USER_DISABLED,
    USER_UPDATED,
    RevocationFeed,
    RevocationList,
)
from portal_testing.service import TestIssuer


def _user_event(type: str, account: uuid.UUID, status: str, at: float) -> CloudEvent:
    data = {"id": str(account), "roles": ["resident"], "agency_id": None, "status": status}
    return CloudEvent(
        type=type,
        source="/identity",
        subject=str(account),
        data={**data, "version": 2},
        time=dt.datetime.fromtimestamp(at, dt.UTC),
    )


def _revoked(jti: str, exp: float) -> CloudEvent:
    data = {
        "sub": "someone",
        "client_id": "portal-web",
        "reason": "revoked",
        "tokens": [{"jti": jti, "exp": int(exp)}],
    }
    return CloudEvent(type=TOKEN_REVOKED, source="/identity", subject="someone", data=data)


async def test_a_cached_token_is_refused_once_revoked() -> None:
    issuer = TestIssuer()
    revocations = RevocationList()
    verifier = issuer.verifier(revocations)
    token = issuer.token(jti="jti-1")
    try:
        assert (await verifier.verify(token)).token_id == "jti-1"  # verified and cached
        revocations.apply(_revoked("jti-1", time.time() + 300))
        with pytest.raises(Unauthorized, match="revoked"):
            await verifier.verify(token)
        assert (await verifier.verify(issuer.token())).token_id != "jti-1"
    finally:
        await verifier.aclose()


async def test_a_disabled_account_is_refused_and_only_its_new_tokens_work_once_enabled() -> None:
    issuer = TestIssuer()
    revocations = RevocationList()
    verifier = issuer.verifier(revocations)
    account = uuid.uuid4()
    now = int(time.time())
    old = issuer.token(sub=account, iat=now - 10)
    try:
        await verifier.verify(old)
        revocations.apply(_user_event(USER_DISABLED, account, "disabled", now - 5))
        with pytest.raises(Unauthorized, match="disabled"):
            await verifier.verify(old)
        # While disabled, even a token dated after the disabling (none should exist).
        with pytest.raises(Unauthorized, match="disabled"):
            await verifier.verify(issuer.token(sub=account, iat=now))
        revocations.apply(_user_event(USER_UPDATED, account, "active", now - 2))
        with pytest.raises(Unauthorized, match="predates"):
            await verifier.verify(old)
        assert (await verifier.verify(issuer.token(sub=account, iat=now))).subject == str(account)
    finally:
        await verifier.aclose()


def test_entries_are_forgotten_once_no_token_can_match_them() -> None:
    clock = [1_000_000.0]
    revocations = RevocationList(max_token_lifetime=3600, clock=lambda: clock[0])
    revocations.revoke_tokens([("short", clock[0] + 60), ("long", clock[0] + 3000)])
    revocations.disable("account", clock[0])
    assert len(revocations) == 3
    clock[0] += 120
    revocations.prune()
    assert revocations.refusal({"jti": "short", "sub": "x"}) is None
    assert revocations.refusal({"jti": "long", "sub": "x"}) is not None
    clock[0] += 3600
    revocations.prune()
    assert len(revocations) == 0


async def _publish(bootstrap: str, topic: str, events: list[CloudEvent]) -> None:
    producer = make_producer(bootstrap, idempotence=False)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                topic, value=event.value(), key=event.subject.encode(), headers=event.headers()
            )
    finally:
        await producer.stop()


async def _feed(bootstrap: str, topics: list[str]) -> tuple[RevocationList, Any, asyncio.Event]:
    revocations = RevocationList()
    stop = asyncio.Event()
    task = asyncio.create_task(RevocationFeed(revocations, bootstrap, topics=topics).run(stop))
    return revocations, task, stop


async def test_the_feed_learns_revocations_made_before_and_after_it_started(
    kafka_bootstrap: str,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    tokens, users = f"test.token.{suffix}", f"test.user.{suffix}"
    await ensure_topics(kafka_bootstrap, [tokens, users], partitions=3)
    account = uuid.uuid4()
    # Before this replica starts: a revocation still in force, and an account disabled.
    await _publish(kafka_bootstrap, tokens, [_revoked("before", time.time() + 300)])
    await _publish(
        kafka_bootstrap, users, [_user_event(USER_DISABLED, account, "disabled", time.time())]
    )
    revocations, task, stop = await _feed(kafka_bootstrap, [tokens, users])
    try:
        await asyncio.wait_for(revocations.caught_up.wait(), 30)
        assert revocations.refusal({"jti": "before", "sub": "x"}) is not None
        assert revocations.refusal({"jti": "y", "sub": str(account)}) is not None
        # After: picked up as it comes.
        await _publish(kafka_bootstrap, tokens, [_revoked("after", time.time() + 300)])
        deadline = time.monotonic() + 5.0
        while revocations.refusal({"jti": "after", "sub": "x"}) is None:
            assert time.monotonic() < deadline, "a new revocation took over 5 s to arrive"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
