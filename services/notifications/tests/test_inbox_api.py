"""The inbox and the preferences, as a resident's frontend uses them: own messages only,
newest first, paged, filtered to the unread, marked read; Kazakh and no email by default."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx

from portal_testing.service import TestIssuer

if TYPE_CHECKING:
    from tests.conftest import Eventually, Publish, Register

TOPIC = "requests.request"
PROBLEM = "application/problem+json"


async def test_preferences_default_to_kazakh_without_email_and_can_be_changed(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    headers = issuer.headers()
    first = await client.get("/api/v1/me/notification-preferences", headers=headers)
    assert first.status_code == 200
    assert first.json() == {"language": "kk", "email": False}

    changed = await client.put(
        "/api/v1/me/notification-preferences",
        json={"language": "en", "email": True},
        headers=headers,
    )
    assert changed.json() == {"language": "en", "email": True}
    again = await client.get("/api/v1/me/notification-preferences", headers=headers)
    assert again.json() == {"language": "en", "email": True}
    # Someone else's preferences are untouched.
    other = await client.get("/api/v1/me/notification-preferences", headers=issuer.headers())
    assert other.json() == {"language": "kk", "email": False}


async def test_a_language_outside_kk_ru_en_is_refused_as_a_problem(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    response = await client.put(
        "/api/v1/me/notification-preferences",
        json={"language": "de", "email": True},
        headers=issuer.headers(),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_the_inbox_needs_a_persons_token(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    anonymous = await client.get("/api/v1/notifications")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == PROBLEM
    machine = await client.get(
        "/api/v1/notifications",
        headers=issuer.headers(sub="agency-demo", client_id="agency-demo", roles=[]),
    )
    assert machine.status_code == 403
    assert machine.json()["type"].endswith("account-required")


async def test_own_messages_newest_first_paged_unread_and_read(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    publish: Publish,
    register: Register,
    new_application: Any,
    wait_for: Eventually,
) -> None:
    resident = await register()
    headers = issuer.headers(sub=resident)
    application = new_application(resident)
    for status, kind in [
        ("in_review", "accepted"),
        ("approved", "approved"),
        ("completed", "completed"),
    ]:
        await publish(TOPIC, kind, application.data(status))

    async def messages() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (
            await client.get("/api/v1/notifications", headers=headers)
        ).json()["items"]
        return items

    await wait_for(lambda: _count(messages, 3), "three messages")
    everything = await messages()
    assert [m["event_type"] for m in everything] == ["completed", "approved", "accepted"]
    # Kazakh by default, and no email without consent.
    assert everything[0]["title"] == f"№ {application.number} өтінім бойынша қызмет көрсетілді"
    # The link leads to the web app's page of the application, where the result is.
    assert everything[0]["body"].endswith(f"/requests/{application.id}")
    assert "/api/" not in everything[0]["body"]
    assert all(m["email_status"] is None for m in everything)

    first = (await client.get("/api/v1/notifications?limit=2", headers=headers)).json()
    assert [m["id"] for m in first["items"]] == [m["id"] for m in everything[:2]]
    second = (
        await client.get(
            "/api/v1/notifications",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=headers,
        )
    ).json()
    assert [m["id"] for m in second["items"]] == [everything[2]["id"]]
    assert second["next_cursor"] is None

    read = await client.post(f"/api/v1/notifications/{everything[1]['id']}/read", headers=headers)
    assert read.status_code == 200
    assert read.json()["read_at"] is not None
    again = await client.post(f"/api/v1/notifications/{everything[1]['id']}/read", headers=headers)
    assert again.json()["read_at"] == read.json()["read_at"]
    unread = (await client.get("/api/v1/notifications?unread=true", headers=headers)).json()
    assert [m["id"] for m in unread["items"]] == [everything[0]["id"], everything[2]["id"]]

    # A cursor of the unfiltered list is not one of the unread list's.
    wrong = await client.get(
        "/api/v1/notifications",
        params={"limit": 2, "unread": "true", "cursor": first["next_cursor"]},
        headers=headers,
    )
    assert wrong.status_code == 400
    assert wrong.headers["content-type"] == PROBLEM


async def test_another_persons_message_does_not_exist_for_you(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    publish: Publish,
    register: Register,
    new_application: Any,
    wait_for: Eventually,
) -> None:
    owner = await register()
    await publish(TOPIC, "accepted", new_application(owner).data("in_review"))

    async def owners() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (
            await client.get("/api/v1/notifications", headers=issuer.headers(sub=owner))
        ).json()["items"]
        return items

    message = (await wait_for(owners, "the owner's message"))[0]
    stranger = issuer.headers(sub=uuid.uuid4())
    response = await client.post(f"/api/v1/notifications/{message['id']}/read", headers=stranger)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert (await client.get("/api/v1/notifications", headers=stranger)).json() == {
        "items": [],
        "next_cursor": None,
    }
    missing = await client.post(f"/api/v1/notifications/{uuid.uuid4()}/read", headers=stranger)
    assert missing.status_code == 404


async def _count(messages: Any, wanted: int) -> bool:
    return len(await messages()) == wanted
