"""Fixtures for the directory service's tests: a fresh migrated database, the running app
(relay and consumers included) on the real broker, and tokens from a test issuer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from directory.__main__ import SERVICE_ROOT
from directory.app import create_app
from directory.settings import DirectorySettings
from portal_testing.folders import until_tests_in_done
from portal_testing.service import TestIssuer, client_for, migrated_settings, running, truncate_all

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="session")
async def settings(postgres_url: str, kafka_bootstrap: str) -> DirectorySettings:
    return await migrated_settings(
        DirectorySettings,
        SERVICE_ROOT,
        f"{postgres_url}/directory_test",
        kafka_bootstrap,
    )


@pytest.fixture(scope="session")
async def app(settings: DirectorySettings, issuer: TestIssuer) -> AsyncIterator[FastAPI]:
    async with until_tests_in_done(running(create_app(settings), issuer), HERE) as app:
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await truncate_all(app.state.engine)
    async with client_for(app) as client:
        yield client


@pytest.fixture
def admin(issuer: TestIssuer) -> dict[str, str]:
    """Headers of an administrator's request."""
    return issuer.headers(roles=["admin"])


def valid_agency_body(code: str = "BKR-TEST", **overrides: Any) -> dict[str, Any]:
    """A valid registration body; tests change one thing at a time."""
    body: dict[str, Any] = {
        "code": code,
        "name": {
            "kk": "Байқоңыр қаласының Әділет департаменті",
            "ru": "Департамент юстиции города Байконыр",
            "en": "Department of Justice of Baikonur",
        },
        "kind": "department",
        "bin": "140740190074",
        "city": "Baikonur",
        "address": "Baikonur, Gagarin street, 12",
        "timezone": "Asia/Qyzylorda",
        "working_hours": {
            "mon": {
                "open": "09:00",
                "close": "18:30",
                "breaks": [{"start": "13:00", "end": "14:30"}],
            }
        },
        "contacts": {"phone": "+7 33622 5 20 00", "email": "justice@baikonur.example.kz"},
    }
    body.update(overrides)
    return body


AgencyBody = Callable[..., dict[str, Any]]
Register = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def agency_body() -> AgencyBody:
    return valid_agency_body


@pytest.fixture
def register(client: httpx.AsyncClient, admin: dict[str, str]) -> Register:
    """Register an agency as an administrator and return its JSON."""

    async def register(code: str = "BKR-TEST", **overrides: Any) -> dict[str, Any]:
        body = valid_agency_body(code, **overrides)
        response = await client.post("/api/v1/agencies", json=body, headers=admin)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    return register
