"""Fixtures for the identity service's tests: a fresh migrated database, the running app
(relay and consumers included) on the real broker, an HTTP client, and demo parties
(an admin, the portal-web client, an agency) created through the service's own use cases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from identity import service
from identity.__main__ import SERVICE_ROOT, WEB_SCOPES
from identity.app import create_app
from identity.models import Agency
from identity.passwords import Passwords
from identity.schemas import ClientCreate, UserCreate
from identity.settings import IdentitySettings
from portal_testing.folders import until_tests_in_done
from portal_testing.oidc import (
    ADMIN_PASSWORD,
    TEST_AGENCY_ID,
    WEB_CALLBACK,
    Tokens,
    sign_in_with_pkce,
)
from portal_testing.service import TestIssuer, client_for, migrated_settings, running, truncate_all

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def foreign_issuer() -> TestIssuer:
    """An issuer with the right name but a key the identity service never published."""
    return TestIssuer()


@pytest.fixture(scope="session")
async def settings(postgres_url: str, kafka_bootstrap: str) -> IdentitySettings:
    return await migrated_settings(
        IdentitySettings,
        SERVICE_ROOT,
        f"{postgres_url}/identity_test",
        kafka_bootstrap,
        # Cheap hashes keep the suite quick; the cost is a setting, not a behaviour.
        argon2_memory_kib=1024,
        argon2_time_cost=1,
        login_max_failures=3,
        login_max_failures_per_address=1000,
        registration_max_conflicts_per_address=3,
        client_auth_max_failures=3,
    )


@pytest.fixture(scope="session")
async def app(settings: IdentitySettings) -> AsyncIterator[FastAPI]:
    # No test issuer: the identity service verifies the tokens it issues itself.
    async with until_tests_in_done(running(create_app(settings)), HERE) as app:
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await truncate_all(app.state.engine)
    async with client_for(app) as client:
        yield client


@pytest.fixture
async def parties(app: FastAPI, client: httpx.AsyncClient, settings: IdentitySettings) -> None:
    """An admin (`admin`), an active agency, the public `portal-web` client."""
    passwords: Passwords = app.state.passwords
    async with app.state.sessionmaker() as session, session.begin():
        session.add(Agency(id=TEST_AGENCY_ID, code="BKR-TEST", status="active", version=1))
        await service.create_user(
            session,
            UserCreate(
                username="admin",
                password=ADMIN_PASSWORD,
                given_name="Aigerim",
                family_name="Admin",
                email="admin@example.kz",
                roles=["admin"],
            ),
            settings=settings,
            passwords=passwords,
        )
        await service.create_client(
            session,
            ClientCreate(
                client_id="portal-web",
                name="Portal web",
                client_type="public",
                redirect_uris=[WEB_CALLBACK, "http://127.0.0.1:8000/callback"],
                post_logout_redirect_uris=["http://localhost:8000/"],
                grant_types=["authorization_code", "refresh_token"],
                scopes=WEB_SCOPES,
            ),
            passwords=passwords,
        )


@pytest.fixture
async def admin_tokens(client: httpx.AsyncClient, parties: None) -> Tokens:
    return await sign_in_with_pkce(client, "admin", ADMIN_PASSWORD)


@pytest.fixture
def admin_headers(admin_tokens: Tokens) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_tokens.access_token}"}
