"""Signing secrets are stored sealed: the database (or a backup of it) does not give away
what agency systems trust, deliveries still sign with them, and the sealing key rotates
without losing a secret."""

from __future__ import annotations

import uuid

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from fastapi import FastAPI
from pydantic import ValidationError

from notifications.settings import NotificationsSettings
from notifications.webhooks.sealing import SecretSeal, SecretUnreadable, secret_seal
from portal_testing.service import TestIssuer


async def _stored(app: FastAPI, subscription_id: str) -> tuple[str, str | None]:
    """The subscription's secret and previous secret as the database holds them."""
    async with app.state.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text("SELECT secret, previous_secret FROM webhook_subscriptions WHERE id = :id"),
                {"id": uuid.UUID(subscription_id)},
            )
        ).one()
    return str(row.secret), row.previous_secret


async def test_the_secret_shown_once_is_stored_sealed_and_so_is_the_rotated_one(
    client: httpx.AsyncClient, issuer: TestIssuer, app: FastAPI
) -> None:
    admin = issuer.headers(roles=["admin"])
    made = await client.post(
        "/api/v1/subscriptions",
        json={"url": "https://agency.example.kz/hooks", "types": ["requests.request.*"]},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    shown = made.json()["secret"]
    seal = secret_seal(app.state.settings)

    secret, _ = await _stored(app, made.json()["id"])
    assert secret.startswith("fernet:")
    assert shown not in secret
    assert shown.removeprefix("whsec_") not in secret
    assert seal.open(secret) == shown

    rotated = await client.post(
        f"/api/v1/subscriptions/{made.json()['id']}/rotate-secret", headers=admin
    )
    assert rotated.status_code == 200, rotated.text
    secret, previous = await _stored(app, made.json()["id"])
    assert previous is not None
    assert {secret[:7], previous[:7]} == {"fernet:"}
    assert seal.open(secret) == rotated.json()["secret"]
    assert seal.open(previous) == shown


def test_a_new_key_first_still_opens_what_the_old_one_sealed() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = SecretSeal((old,)).seal("whsec_c2VjcmV0")
    assert SecretSeal((new, old)).open(sealed) == "whsec_c2VjcmV0"
    # What the new key seals, the old one alone cannot open.
    with pytest.raises(SecretUnreadable):
        SecretSeal((old,)).open(SecretSeal((new, old)).seal("whsec_c2VjcmV0"))
    # Dropping the old key too early makes its secrets unreadable, and says so.
    with pytest.raises(SecretUnreadable):
        SecretSeal((new,)).open(sealed)


def test_a_secret_written_before_sealing_still_opens() -> None:
    assert SecretSeal((Fernet.generate_key().decode(),)).open("whsec_b2xk") == "whsec_b2xk"


def test_production_refuses_the_demo_key_and_any_key_that_is_not_one() -> None:
    with pytest.raises(ValidationError, match="WEBHOOK_SECRET_KEYS"):
        NotificationsSettings(
            PORTAL_ENV="production", cursor_secret="a-real-cursor-secret-0123456789"
        )
    with pytest.raises(ValidationError, match="not a Fernet key"):
        NotificationsSettings(webhook_secret_keys=["not-a-key"])
    key = Fernet.generate_key().decode()
    chosen = NotificationsSettings(
        PORTAL_ENV="production",
        cursor_secret="a-real-cursor-secret-0123456789",
        webhook_secret_keys=[key],
    )
    assert chosen.webhook_secret_keys == [key]
