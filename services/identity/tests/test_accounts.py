"""Residents register themselves; administrators manage officers and administrators; accounts
can be disabled; every change leaves as an identity.user event through the outbox."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from portal_testing.cursors import INVALID_CURSOR
from portal_testing.oidc import TEST_AGENCY_ID, sign_in_with_pkce
from portal_testing.oidc import valid_iin as make_iin


def resident(iin: str, email: str = "aliya@example.kz") -> dict[str, str]:
    return {
        "iin": iin,
        "given_name": "Aliya",
        "family_name": "Nurlanova",
        "email": email,
        "phone": "+77011234567",
        "password": "steppe-wind-2026",
    }


async def test_resident_registers_and_signs_in_with_iin_or_email(
    client: httpx.AsyncClient, parties: None
) -> None:
    iin = make_iin()
    created = await client.post("/api/v1/residents", json=resident(iin))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["roles"] == ["resident"]
    assert body["iin"] == iin
    assert "password" not in body
    assert "password_hash" not in body
    for login in (iin, "ALIYA@example.kz"):
        tokens = await sign_in_with_pkce(client, login, "steppe-wind-2026")
        me = await client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {tokens.access_token}"}
        )
        assert me.json()["id"] == body["id"]


async def test_iin_is_unique_and_checked(client: httpx.AsyncClient) -> None:
    iin = make_iin()
    assert (await client.post("/api/v1/residents", json=resident(iin))).status_code == 201
    again = await client.post("/api/v1/residents", json=resident(iin, "other@example.kz"))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "iin" in again.json()["detail"]
    wrong = iin[:11] + str((int(iin[11]) + 1) % 10)
    bad = await client.post("/api/v1/residents", json=resident(wrong, "x@example.kz"))
    assert bad.status_code == 422
    assert "check digit" in bad.json()["detail"]


async def test_weak_password_is_refused_with_a_reason(client: httpx.AsyncClient) -> None:
    body = resident(make_iin()) | {"password": "short1"}
    response = await client.post("/api/v1/residents", json=body)
    assert response.status_code == 422
    assert "at least" in response.json()["detail"]
    body["password"] = "aaaaaaaaaaaaaaa"
    assert (await client.post("/api/v1/residents", json=body)).status_code == 422


async def test_malformed_input_is_a_problem_not_a_crash(client: httpx.AsyncClient) -> None:
    for payload in ({}, {"iin": 5}, resident("x" * 12) | {"email": "not-an-email"}):
        response = await client.post("/api/v1/residents", json=payload)
        assert response.status_code == 422
        assert response.json()["detail"]


async def test_admin_creates_officer_bound_to_an_active_agency(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    officer = {
        "username": "officer-one",
        "password": "officer-test-password",
        "given_name": "Daulet",
        "family_name": "Officer",
        "email": "daulet@example.kz",
        "roles": ["officer"],
        "agency_id": str(TEST_AGENCY_ID),
    }
    created = await client.post("/api/v1/users", json=officer, headers=admin_headers)
    assert created.status_code == 201, created.text
    tokens = await sign_in_with_pkce(client, "officer-one", "officer-test-password")
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert me.json()["agency_id"] == str(TEST_AGENCY_ID)
    unknown = officer | {"username": "officer-two", "email": "two@example.kz"}
    unknown["agency_id"] = str(uuid.uuid4())
    refused = await client.post("/api/v1/users", json=unknown, headers=admin_headers)
    assert refused.status_code == 422
    assert "agency" in refused.json()["detail"]
    no_agency = officer | {"username": "officer-three", "email": "three@example.kz"}
    del no_agency["agency_id"]
    assert (
        await client.post("/api/v1/users", json=no_agency, headers=admin_headers)
    ).status_code == 422


async def test_officer_cannot_join_an_inactive_agency(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async with app.state.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE agencies SET status = 'inactive'"))
    officer = {
        "username": "officer-late",
        "password": "officer-test-password",
        "given_name": "A",
        "family_name": "B",
        "email": "late@example.kz",
        "roles": ["officer"],
        "agency_id": str(TEST_AGENCY_ID),
    }
    response = await client.post("/api/v1/users", json=officer, headers=admin_headers)
    assert response.status_code == 422
    assert "inactive" in response.json()["detail"]


async def test_only_admins_manage_users(client: httpx.AsyncClient, parties: None) -> None:
    iin = make_iin()
    await client.post("/api/v1/residents", json=resident(iin))
    tokens = await sign_in_with_pkce(client, iin, "steppe-wind-2026")
    headers = {"Authorization": f"Bearer {tokens.access_token}"}
    assert (await client.get("/api/v1/users", headers=headers)).status_code == 403
    assert (await client.get("/api/v1/users")).status_code == 401


async def test_disabled_account_cannot_sign_in_or_refresh(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    iin = make_iin()
    account = (await client.post("/api/v1/residents", json=resident(iin))).json()
    tokens = await sign_in_with_pkce(client, iin, "steppe-wind-2026")
    patched = await client.patch(
        f"/api/v1/users/{account['id']}", json={"status": "disabled"}, headers=admin_headers
    )
    assert patched.status_code == 200
    assert patched.json()["status"] == "disabled"
    refreshed = await client.post(
        "/auth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token or "",
            "client_id": "portal-web",
        },
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"


async def test_users_list_pages_with_a_cursor(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for n in range(3):
        await client.post(
            "/api/v1/residents", json=resident(make_iin(10 + n * 20), f"r{n}@example.kz")
        )
    first = (await client.get("/api/v1/users?limit=2", headers=admin_headers)).json()
    assert len(first["items"]) == 2
    second = (
        await client.get(
            f"/api/v1/users?limit=2&cursor={first['next_cursor']}", headers=admin_headers
        )
    ).json()
    seen = [i["id"] for i in first["items"] + second["items"]]
    assert len(seen) == len(set(seen)) == 4  # the admin and three residents
    assert second["next_cursor"] is None
    bad = await client.get("/api/v1/users?cursor=garbage", headers=admin_headers)
    assert (bad.status_code, bad.json()["type"]) == (400, INVALID_CURSOR)
    assert (await client.get("/api/v1/users?limit=500", headers=admin_headers)).status_code == 422


async def test_user_events_leave_through_the_outbox_without_personal_data(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    iin = make_iin()
    account = (await client.post("/api/v1/residents", json=resident(iin))).json()
    await client.patch(
        f"/api/v1/users/{account['id']}", json={"status": "disabled"}, headers=admin_headers
    )
    rows: list[Any] = []  # (type, data, published_at)
    for _ in range(100):
        async with app.state.engine.connect() as conn:
            rows = list(
                await conn.execute(
                    sa.text(
                        "SELECT type, data, published_at FROM outbox"
                        " WHERE key = :k AND topic = 'identity.user' ORDER BY id"
                    ),
                    {"k": account["id"]},
                )
            )
        if rows and all(r[2] is not None for r in rows):
            break
        await asyncio.sleep(0.1)
    assert [r[0] for r in rows] == ["identity.user.registered.v1", "identity.user.disabled.v1"]
    assert all(r[2] is not None for r in rows), "the relay published them to Kafka"
    assert rows[1][1] == {
        "id": account["id"],
        "roles": ["resident"],
        "agency_id": None,
        "status": "disabled",
        "version": 2,
    }
    assert iin not in str(rows[0][1])
    # The email address leaves only on the notifications service's own topic.
    async with app.state.engine.connect() as conn:
        contact = list(
            await conn.execute(
                sa.text(
                    "SELECT type, data FROM outbox"
                    " WHERE key = :k AND topic = 'identity.contact' ORDER BY id"
                ),
                {"k": account["id"]},
            )
        )
    assert [r[0] for r in contact] == [
        "identity.contact.registered.v1",
        "identity.contact.disabled.v1",
    ]
    assert contact[1][1] == {**rows[1][1], "email": "aliya@example.kz"}
    assert iin not in str(contact[0][1])
