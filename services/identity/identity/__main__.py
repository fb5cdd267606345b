"""`python -m identity serve|migrate|worker|seed-demo|rotate-keys`."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from identity import keys, service
from identity.models import Account, Agency, OAuthClient
from identity.passwords import Passwords
from identity.schemas import ClientCreate, UserCreate
from identity.settings import IdentitySettings, get_settings
from portal_shared import scopes
from portal_shared.cli import main
from portal_shared.db import make_engine, make_sessionmaker

SERVICE_ROOT = Path(__file__).resolve().parent.parent

DEMO_AGENCY_CODE = "BKR-MIGRATION"
DEMO_AGENCY_ID = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:baikonur-portal:agency:{DEMO_AGENCY_CODE}")


def web_origins(public_url: str) -> list[str]:
    """The web app's origins: the contract's two, and PUBLIC_URL's with its loopback twin,
    so a portal on another port (tests, a second `make run`) can sign its app in too.
    Each is registered with the web app's `/callback` and Swagger UI's `/docs/oauth2-redirect`
    (sign-in from the API docs)."""
    parts = urlsplit(public_url.rstrip("/"))
    origins = ["http://localhost:8000", "http://127.0.0.1:8000", f"{parts.scheme}://{parts.netloc}"]
    if parts.hostname == "localhost" and parts.port is not None:
        origins.append(f"{parts.scheme}://127.0.0.1:{parts.port}")
    return list(dict.fromkeys(origins))


# The web application signs in residents, officers and administrators: the OIDC scopes and
# every API scope a person's action needs (the roles in the token decide which of them the
# person may use). A sign-in asking for no scope gets them all.
WEB_SCOPES = [
    scopes.OPENID,
    scopes.PROFILE,
    scopes.EMAIL,
    scopes.PHONE,
    scopes.OFFLINE_ACCESS,
    scopes.ACCOUNTS_READ,
    scopes.REQUESTS_READ,
    scopes.REQUESTS_WRITE,
    scopes.DOCUMENTS_READ,
    scopes.DOCUMENTS_WRITE,
    scopes.NOTIFICATIONS_READ,
    scopes.NOTIFICATIONS_WRITE,
    scopes.EVENTS_SUBSCRIBE,
    scopes.AGENCIES_WRITE,
    scopes.SERVICES_WRITE,
    scopes.USERS_ADMIN,
    scopes.CLIENTS_ADMIN,
]
AGENCY_SCOPES = [scopes.REQUESTS_READ, scopes.REQUESTS_WRITE, scopes.EVENTS_SUBSCRIBE]


async def _keep_scopes(session: AsyncSession, client_id: str, wanted: list[str]) -> bool:
    """Whether the demo client exists; if so, registered with `wanted` (a data folder from
    before the API scopes gets them on the next run)."""
    client = await session.get(OAuthClient, client_id)
    if client is None:
        return False
    if list(client.scopes) != wanted:
        client.scopes = list(wanted)
        await session.flush()
    return True


async def seed_admin_and_clients(
    session: AsyncSession, settings: IdentitySettings, passwords: Passwords
) -> None:
    if await session.scalar(select(Account.id).where(col(Account.username) == "admin")) is None:
        await service.create_user(
            session,
            UserCreate(
                username="admin",
                password="admin-demo-password",  # noqa: S106 -- the contract's demo account
                given_name="Demo",
                family_name="Administrator",
                email="admin@demo.baikonur.kz",
                roles=["admin"],
            ),
            settings=settings,
            passwords=passwords,
        )
    if not await _keep_scopes(session, "portal-web", WEB_SCOPES):
        await service.create_client(
            session,
            ClientCreate(
                client_id="portal-web",
                name="Portal web application",
                client_type="public",
                redirect_uris=[
                    f"{origin}{path}"
                    for origin in web_origins(settings.public_url)
                    for path in ("/callback", "/docs/oauth2-redirect")
                ],
                post_logout_redirect_uris=[f"{o}/" for o in web_origins(settings.public_url)],
                grant_types=["authorization_code", "refresh_token"],
                scopes=WEB_SCOPES,
            ),
            passwords=passwords,
        )


async def _seed_agency_bound(
    session: AsyncSession, settings: IdentitySettings, passwords: Passwords
) -> None:
    if not await _keep_scopes(session, "agency-demo", AGENCY_SCOPES):
        await service.create_client(
            session,
            ClientCreate(
                client_id="agency-demo",
                name="Demo agency system (migration service)",
                client_type="confidential",
                grant_types=["client_credentials"],
                scopes=AGENCY_SCOPES,
                agency_id=DEMO_AGENCY_ID,
            ),
            passwords=passwords,
            secret="agency-demo-secret",  # noqa: S106 -- the contract's demo client
        )
    taken = await session.scalar(
        select(Account.id).where(col(Account.username) == "officer-migration")
    )
    if taken is None:
        await service.create_user(
            session,
            UserCreate(
                username="officer-migration",
                password="officer-demo-password",  # noqa: S106 -- the contract's demo officer
                given_name="Demo",
                family_name="Officer",
                email="officer-migration@demo.baikonur.kz",
                roles=["officer"],
                agency_id=DEMO_AGENCY_ID,
            ),
            settings=settings,
            passwords=passwords,
        )


async def seed_demo() -> None:
    """Load the demo data of `make run` (idempotent). The officer and the agency client need
    the demo agency, which arrives from the directory over Kafka: wait for it, bounded."""
    settings = get_settings()
    if settings.environment == "production":
        sys.exit("seed-demo loads public demo credentials; it never runs in production")
    passwords = Passwords(
        memory_kib=settings.argon2_memory_kib, time_cost=settings.argon2_time_cost
    )
    engine = make_engine(settings.database_url, pool_size=2)
    maker = make_sessionmaker(engine)
    try:
        async with maker() as session, session.begin():
            await keys.ensure_current(session, settings.key_encryption_secret)
            await seed_admin_and_clients(session, settings, passwords)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.seed_agency_wait
        while True:
            async with maker() as session:
                agency = await session.get(Agency, DEMO_AGENCY_ID)
            if agency is not None and agency.status == "active":
                break
            if loop.time() >= deadline:
                sys.exit(
                    f"identity seed-demo: the agency {DEMO_AGENCY_CODE} ({DEMO_AGENCY_ID}) did not "
                    f"arrive from the directory within {settings.seed_agency_wait:.0f} s; is the "
                    "directory seeded and is the identity service (its consumer) running?"
                )
            await asyncio.sleep(0.2)  # one indexed read: looking often costs nothing
        async with maker() as session, session.begin():
            await _seed_agency_bound(session, settings, passwords)
    finally:
        await engine.dispose()


async def rotate_keys() -> None:
    """Make a new signing key current; the old one stays in the JWKS as previous."""
    settings = get_settings()
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            kid = await keys.rotate(session, settings.key_encryption_secret)
        print(f"new signing key {kid} is current")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    main(
        prog="identity",
        service_root=SERVICE_ROOT,
        settings_factory=get_settings,
        app_factory="identity.app:create_app",
        extra={"seed-demo": seed_demo, "rotate-keys": rotate_keys},
    )
