"""The local copy of agencies follows directory.agency events from the real broker; the demo
seed is idempotent and gives the contract's demo accounts and clients; production refuses
the demo key secret."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from pydantic import ValidationError

from identity import __main__ as cli
from identity.models import Agency, OAuthClient
from identity.settings import DEMO_KEY_SECRET, IdentitySettings
from portal_shared.events import CloudEvent
from portal_testing.oidc import sign_in_with_pkce


async def _publish(bootstrap: str, event_type: str, agency_id: uuid.UUID, **data: object) -> None:
    event = CloudEvent(
        type=event_type,
        source="/directory",
        subject=str(agency_id),
        data={"id": str(agency_id), **data},
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            "directory.agency", event.value(), key=str(agency_id).encode(), headers=event.headers()
        )
    finally:
        await producer.stop()


async def _agency(app: FastAPI, agency_id: uuid.UUID, status: str) -> Agency | None:
    for _ in range(300):
        async with app.state.sessionmaker() as session:
            agency: Agency | None = await session.get(Agency, agency_id)
        if agency is not None and agency.status == status:
            return agency
        await asyncio.sleep(0.1)
    return None


async def test_agency_events_maintain_the_local_copy(
    app: FastAPI, client: httpx.AsyncClient, settings: IdentitySettings
) -> None:
    agency_id = uuid.uuid4()
    bootstrap = settings.kafka_bootstrap_servers
    await _publish(
        bootstrap,
        "directory.agency.registered.v1",
        agency_id,
        code="BKR-NEW",
        status="active",
        version=1,
    )
    registered = await _agency(app, agency_id, "active")
    assert registered is not None
    assert registered.code == "BKR-NEW"
    await _publish(
        bootstrap,
        "directory.agency.deactivated.v1",
        agency_id,
        code="BKR-NEW",
        status="inactive",
        version=2,
    )
    assert await _agency(app, agency_id, "inactive") is not None
    # A late, older event changes nothing.
    await _publish(
        bootstrap,
        "directory.agency.updated.v1",
        agency_id,
        code="BKR-OLD",
        status="active",
        version=1,
    )
    await asyncio.sleep(1.0)
    async with app.state.sessionmaker() as session:
        agency = await session.get(Agency, agency_id)
    assert agency is not None
    assert (agency.status, agency.code) == ("inactive", "BKR-NEW")


async def test_demo_seed_is_idempotent_and_matches_the_contract(
    app: FastAPI, client: httpx.AsyncClient, settings: IdentitySettings
) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        session.add(
            Agency(id=cli.DEMO_AGENCY_ID, code=cli.DEMO_AGENCY_CODE, status="active", version=1)
        )
    for _ in range(2):
        async with app.state.sessionmaker() as session, session.begin():
            await cli.seed_admin_and_clients(session, settings, app.state.passwords)
            await cli._seed_agency_bound(session, settings, app.state.passwords)
    admin = await sign_in_with_pkce(client, "admin", "admin-demo-password")
    officer = await sign_in_with_pkce(client, "officer-migration", "officer-demo-password")
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {officer.access_token}"})
    assert me.json()["roles"] == ["officer"]
    assert me.json()["agency_id"] == str(cli.DEMO_AGENCY_ID)
    system = await client.post(
        "/auth/token",
        data={"grant_type": "client_credentials"},
        auth=("agency-demo", "agency-demo-secret"),
    )
    assert system.status_code == 200
    assert system.json()["scope"] == "requests:read requests:write events:subscribe"
    users = await client.get(
        "/api/v1/users", headers={"Authorization": f"Bearer {admin.access_token}"}
    )
    assert len(users.json()["items"]) == 2


async def test_the_demo_seed_gives_clients_from_before_the_api_scopes_their_scopes(
    app: FastAPI, client: httpx.AsyncClient, settings: IdentitySettings
) -> None:
    # A data folder from before: portal-web registered with the OIDC scopes alone, so its
    # sign-ins would get tokens the API refuses.
    async with app.state.sessionmaker() as session, session.begin():
        await cli.seed_admin_and_clients(session, settings, app.state.passwords)
        web = await session.get(OAuthClient, "portal-web")
        assert web is not None
        web.scopes = ["openid", "profile", "email", "phone", "offline_access"]
    async with app.state.sessionmaker() as session, session.begin():
        await cli.seed_admin_and_clients(session, settings, app.state.passwords)
    admin = await sign_in_with_pkce(client, "admin", "admin-demo-password", scope="")
    assert admin.body["scope"].split() == cli.WEB_SCOPES
    users = await client.get(
        "/api/v1/users", headers={"Authorization": f"Bearer {admin.access_token}"}
    )
    assert users.status_code == 200


def test_production_refuses_the_demo_key_secret() -> None:
    with pytest.raises(ValidationError, match="KEY_ENCRYPTION_SECRET"):
        IdentitySettings(PORTAL_ENV="production")
    # The cursor secret every service has is refused in the same way.
    with pytest.raises(ValidationError, match="CURSOR_SECRET"):
        IdentitySettings(PORTAL_ENV="production", key_encryption_secret="x" * 40)
    assert IdentitySettings(
        PORTAL_ENV="production", key_encryption_secret="x" * 40, cursor_secret="y" * 40
    )
    assert IdentitySettings().key_encryption_secret == DEMO_KEY_SECRET
