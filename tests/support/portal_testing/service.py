"""Test support every service's tests share: real signed tokens, fresh migrated databases.

`TestIssuer` holds an RSA key, signs RFC 9068 access tokens the way the identity
service does, and serves its JWKS over a real (in-process) HTTP app, so a
service's own `TokenVerifier` checks them exactly as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from portal_shared.auth import TokenVerifier
from portal_shared.db import asyncpg_dsn
from portal_shared.migrations import ensure_database, upgrade
from portal_shared.revocation import RevocationList
from portal_shared.scopes import SCOPES
from portal_shared.settings import ServiceSettings

TEST_ISSUER = "http://localhost:8000/auth"
ALL_SCOPES = " ".join(SCOPES)
AUDIENCE = "portal-api"


class TestIssuer:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, issuer: str = TEST_ISSUER, audience: str = AUDIENCE) -> None:
        self.issuer = issuer
        self.audience = audience
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:16]

    def jwks(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def token(
        self,
        *,
        sub: str | UUID | None = None,
        roles: list[str] | None = None,
        agency_id: UUID | None = None,
        client_id: str = "portal-web",
        scope: str | None = None,
        ttl: int = 300,
        **overrides: Any,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(sub or uuid.uuid4()),
            "aud": self.audience,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "client_id": client_id,
            # By default every scope, as identity grants a portal-web sign-in that asks for
            # none: the roles decide what the token may do.
            "scope": ALL_SCOPES if scope is None else scope,
            "roles": roles if roles is not None else ["resident"],
        }
        if agency_id is not None:
            claims["agency_id"] = str(agency_id)
        claims.update(overrides)
        return jwt.encode(
            claims, self.key, algorithm="RS256", headers={"kid": self.kid, "typ": "at+jwt"}
        )

    def headers(self, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**kwargs)}"}

    def asgi_app(self) -> Starlette:
        async def jwks(_: Request) -> JSONResponse:
            return JSONResponse(self.jwks())

        return Starlette(routes=[Route("/auth/jwks", jwks)])

    def verifier(self, revocations: RevocationList | None = None) -> TokenVerifier:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.asgi_app()), base_url="http://issuer"
        )
        return TokenVerifier(
            issuer=self.issuer,
            audience=self.audience,
            jwks_url="http://issuer/auth/jwks",
            http=http,
            revocations=revocations,
        )


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


async def migrated_settings(
    settings_class: type[SettingsT],
    service_root: Path,
    database_url: str,
    kafka_bootstrap: str,
    **overrides: Any,
) -> SettingsT:
    """A fresh migrated database and test settings for a service: quick consumer-group
    liveness (rebalances in seconds, not tens), plain-text logs, `PORTAL_ENV=test`."""
    await fresh_database(service_root, database_url)
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": kafka_bootstrap,
        "kafka_session_timeout_ms": 3000,
        "kafka_heartbeat_interval_ms": 1000,
        "log_json": False,
        "PORTAL_ENV": "test",
    }
    values.update(overrides)
    return settings_class(**values)


@contextlib.contextmanager
def serve_jwks(issuer: TestIssuer) -> Iterator[str]:
    """Serve the issuer's JWKS at `/auth/jwks` over real HTTP on a loopback port, from a
    thread of its own (so a busy test loop never delays a service's key fetch), for
    services run as real processes; yields the JWKS URL to give them as `JWKS_URL`."""
    body = json.dumps(issuer.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/auth/jwks":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # the services' own logs are what a failing test needs

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/auth/jwks"
    finally:
        server.shutdown()
        server.server_close()


async def fresh_database(service_root: Path, database_url: str) -> None:
    """Drop and recreate a service's test database, then migrate it with alembic (never
    `create_all`), so every run starts from what the migrations really build."""
    url = make_url(database_url)
    admin = await asyncpg.connect(asyncpg_dsn(url.set(database="postgres").render_as_string(False)))
    try:
        quoted = '"' + str(url.database).replace('"', '""') + '"'
        await admin.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        await admin.close()
    await ensure_database(database_url)
    # alembic's env runs its own event loop, so it runs in a thread here.
    await asyncio.to_thread(upgrade, service_root, database_url)


async def truncate_all(engine: AsyncEngine) -> None:
    """Empty every table but alembic's, so each test starts from a migrated, empty database.

    The app under test keeps running (its consumers, sender and delivery workers lock rows
    of several tables in their own order), so the TRUNCATE, which locks every table, can be
    the victim PostgreSQL picks to break a deadlock: then it is simply run again."""
    for attempt in range(5):
        try:
            await _truncate(engine)
            return
        except DBAPIError as exc:
            # 40P01: deadlock_detected
            if getattr(exc.orig, "sqlstate", None) != "40P01" or attempt == 4:
                raise
            await asyncio.sleep(0.1 * (attempt + 1))


async def _truncate(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        names = (
            (
                await conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                        " AND tablename <> 'alembic_version'"
                    )
                )
            )
            .scalars()
            .all()
        )
        if names:
            await conn.execute(
                text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE")
            )


@asynccontextmanager
async def running(app: FastAPI, issuer: TestIssuer | None = None) -> AsyncIterator[FastAPI]:
    """Run an app's lifespan (engine, relay, consumers) around a block of tests; with an
    issuer, the app trusts that issuer's tokens instead of fetching the identity JWKS (and
    still honours the revocations its feed reads)."""
    async with app.router.lifespan_context(app):
        if issuer is not None:
            await app.state.token_verifier.aclose()
            app.state.token_verifier = issuer.verifier(app.state.revocations)
        yield app


# Problems are in Kazakh unless the caller asks otherwise; the tests read them in English,
# as they were written, and the tests of the languages themselves say which they want.
TEST_LANGUAGE = {"Accept-Language": "en"}


def client_for(app: FastAPI) -> httpx.AsyncClient:
    """An in-process client that sees what a real client would: a 500 arrives as a response
    (after Starlette re-raises to the server for logging), not as an exception in the test.
    It asks for English problems (TEST_LANGUAGE)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=TEST_LANGUAGE
    )
