"""The gateway honours revocations: its token verifier's denylist is fed from the broker.

The gateway has no database and no event consumers of its own; this is the one
place it reads Kafka. `verifier()` builds the gateway's `TokenVerifier` with a
`RevocationFeed` (portal_shared.revocation) running beside it, started with the
verifier and stopped by its `aclose()`, so the gateway's lifespan needs no other
change. A broker that is away only delays revocations: tokens are still checked,
and the feed reconnects in the background.
"""

from __future__ import annotations

import asyncio
import contextlib

from gateway.settings import GatewaySettings
from portal_shared.auth import TokenVerifier
from portal_shared.revocation import RevocationFeed, RevocationList


class FedTokenVerifier(TokenVerifier):
    """A `TokenVerifier` whose revocation list a background feed keeps current."""

    def __init__(self, settings: GatewaySettings) -> None:
        super().__init__(
            issuer=settings.issuer,
            audience=settings.token_audience,
            jwks_url=settings.jwks_url,
            revocations=RevocationList(),
        )
        self._stop = asyncio.Event()
        self._feed: asyncio.Task[None] | None = None
        if settings.revocation_feed:
            feed = RevocationFeed(
                self.revocations,
                settings.kafka_bootstrap_servers,
                fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
                name="gateway-revocations",
            )
            self._feed = asyncio.create_task(feed.run(self._stop), name="revocations")

    async def aclose(self) -> None:
        self._stop.set()
        if self._feed is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._feed), 10)
            except TimeoutError:
                self._feed.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._feed
        await super().aclose()


def verifier(settings: GatewaySettings) -> TokenVerifier:
    """The gateway's token verifier; call from its startup (a running event loop)."""
    return FedTokenVerifier(settings)
