"""The edge's limits: body size, and request rates per client address and per token subject.

Login, registration and submission (`STRICT_ENDPOINTS`) have their own, stricter
buckets. A body over the route's limit is refused from `Content-Length` alone,
or as soon as a chunked body passes it, so no service ever reads it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import Receive

from gateway.errors import ClientGone
from gateway.ratelimit import Limit, TokenBuckets, retry_after
from gateway.settings import GatewaySettings
from portal_shared.errors import BadRequest, PayloadTooLarge, TooManyRequests


class EdgeLimits:
    def __init__(self, settings: GatewaySettings) -> None:
        self.strict = frozenset(
            (m.upper(), p.rstrip("/") or "/")
            for m, _, p in (e.partition(" ") for e in settings.strict_endpoints)
        )
        s = settings
        self.per_address = TokenBuckets(Limit(s.rate_limit_ip_per_second, s.rate_limit_ip_burst))
        self.per_subject = TokenBuckets(
            Limit(s.rate_limit_subject_per_second, s.rate_limit_subject_burst)
        )
        self.strict_per_address = TokenBuckets(
            Limit(s.strict_limit_ip_per_second, s.strict_limit_ip_burst)
        )
        self.strict_per_subject = TokenBuckets(
            Limit(s.strict_limit_subject_per_second, s.strict_limit_subject_burst)
        )

    def is_strict(self, method: str, path: str) -> bool:
        return (method, path.rstrip("/") or "/") in self.strict

    def address(self, client: str, *, strict: bool) -> None:
        _take(self.strict_per_address if strict else self.per_address, client, "address")

    def subject(self, subject: str, *, strict: bool) -> None:
        _take(self.strict_per_subject if strict else self.per_subject, subject, "account")


def _take(buckets: TokenBuckets, key: str, who: str) -> None:
    wait = buckets.take(key)
    if wait:
        raise TooManyRequests(
            message_key=f"error.too-many-from-{who}",
            params={"seconds": retry_after(wait)},
            headers={"Retry-After": retry_after(wait)},
        )


def content_length(value: bytes, limit: int) -> int:
    """The declared body size, refused (413) if over `limit`."""
    # uvicorn's parser refuses most malformed values; this catches what it lets by.
    if not value.strip().isdigit():
        raise BadRequest("The Content-Length header is not a number")
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
