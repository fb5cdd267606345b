"""Assembles the identity service: `create_app()` is the uvicorn factory."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from identity import keys
from identity.api import router as api_router
from identity.cleanup import cleanup_worker
from identity.consumers import AGENCIES
from identity.events import CONTACT_TOPIC, EVENTS, TOPICS
from identity.oauth_api import router as oauth_router
from identity.passwords import Passwords
from identity.settings import IdentitySettings, get_settings
from portal_shared.app import ServiceSpec, create_service_app
from portal_shared.auth import TokenVerifier


async def _start(app: FastAPI) -> None:
    settings: IdentitySettings = app.state.settings
    app.state.passwords = Passwords(
        memory_kib=settings.argon2_memory_kib, time_cost=settings.argon2_time_cost
    )
    async with app.state.sessionmaker() as session, session.begin():
        await keys.ensure_current(session, settings.key_encryption_secret)
    # The issuer checks its own tokens against its own JWKS, in-process: no network hop,
    # and a rotation is seen at once (no refetch delay).
    await app.state.token_verifier.aclose()
    app.state.token_verifier = TokenVerifier(
        issuer=settings.issuer,
        audience=settings.token_audience,
        jwks_url="http://identity/auth/jwks",
        min_refetch_interval=0.0,
        http=httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity"),
        revocations=app.state.revocations,
    )


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        ServiceSpec(
            name="identity",
            title="Identity",
            description=(
                "Accounts, OAuth 2.0 / OpenID Connect clients and tokens of the Baikonur "
                "state-services portal. Discovery: /auth/.well-known/openid-configuration."
            ),
            settings=settings,
            routers=[oauth_router, api_router],
            produces=[*TOPICS, CONTACT_TOPIC],
            consumers=[AGENCIES],
            on_startup=[_start],
            workers=[cleanup_worker],
            events=EVENTS,
        )
    )
