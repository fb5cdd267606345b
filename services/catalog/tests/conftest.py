"""Fixtures for the catalog service's tests: a fresh migrated database, the running app
(relay and consumers included) on the real broker, and tokens from a test issuer."""

# Kazakh and Russian texts are Cyrillic on purpose, look-alike letters included.
# ruff: noqa: RUF001

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from fastapi import FastAPI

from catalog import service
from catalog.__main__ import SERVICE_ROOT
from catalog.app import create_app
from catalog.settings import CatalogSettings
from portal_testing.folders import until_tests_in_done
from portal_testing.service import TestIssuer, client_for, migrated_settings, running, truncate_all

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="session")
async def settings(postgres_url: str, kafka_bootstrap: str) -> CatalogSettings:
    return await migrated_settings(
        CatalogSettings,
        SERVICE_ROOT,
        f"{postgres_url}/catalog_test",
        kafka_bootstrap,
    )


@pytest.fixture(scope="session")
async def app(settings: CatalogSettings, issuer: TestIssuer) -> AsyncIterator[FastAPI]:
    async with until_tests_in_done(running(create_app(settings), issuer), HERE) as app:
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await truncate_all(app.state.engine)
    async with client_for(app) as client:
        yield client


AgencyMaker = Callable[..., Awaitable[dict[str, Any]]]
BodyMaker = Callable[..., dict[str, Any]]


def agency_data(code: str, *, status: str = "active", version: int = 1) -> dict[str, Any]:
    """A public agency exactly as the directory's GET (and its events' data) shows it."""
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:baikonur-portal:agency:{code}")),
        "code": code,
        "name": {"kk": f"{code} басқармасы", "ru": f"Управление {code}", "en": f"{code} office"},
        "kind": "department",
        "parent_id": None,
        "bin": "000740000728",
        "city": "Baikonur",
        "address": "Baikonur, Korolev st. 1",
        "timezone": "Asia/Almaty",
        "working_hours": {"mon-fri": "09:00-18:30"},
        "contacts": {"phone": "+7 33622 00000"},
        "status": status,
        "version": version,
    }


@pytest.fixture
def admin(issuer: TestIssuer) -> dict[str, str]:
    return issuer.headers(roles=["admin"])


@pytest.fixture
def make_agency(app: FastAPI) -> AgencyMaker:
    """Put an agency into the local directory copy, as the directory's event would."""

    async def make(code: str = "BKR-CIVREG", **kwargs: Any) -> dict[str, Any]:
        data = agency_data(code, **kwargs)
        kind: Literal["registered", "deactivated"] = (
            "registered" if data["status"] == "active" else "deactivated"
        )
        async with app.state.sessionmaker() as session, session.begin():
            await service.apply_agency(session, data, kind=kind)
        return data

    return make


@pytest.fixture
def make_body() -> BodyMaker:
    """A realistic state service to create, with a three-language form schema."""

    def make(code: str, agency_id: str, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": code,
            "name": {
                "kk": "Баланың тууын тіркеу",
                "ru": "Регистрация рождения ребенка",
                "en": "Registration of a child's birth",
            },
            "description": {
                "kk": "Туу туралы куәлік беру",
                "ru": "Выдача свидетельства о рождении",
                "en": "Issue of a birth certificate",
            },
            "agency_id": agency_id,
            "term_working_days": 1,
            "fee": {"amount": 0, "currency": "KZT"},
            "result": {
                "kk": "Туу туралы куәлік",
                "ru": "Свидетельство о рождении",
                "en": "Birth certificate",
            },
            "required_documents": [
                {
                    "code": "medical-birth-record",
                    "name": {
                        "kk": "Туу туралы медициналық куәлік",
                        "ru": "Медицинское свидетельство о рождении",
                        "en": "Medical birth record",
                    },
                }
            ],
            "refusal_grounds": [
                {
                    "code": "false-documents",
                    "text": {
                        "kk": "Құжаттардың дәйексіздігі",
                        "ru": "Недостоверность документов",
                        "en": "The documents are not authentic",
                    },
                }
            ],
            "channels": ["portal", "psc"],
            "form_schema": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "required": ["mother_iin", "child_birth_date"],
                "properties": {
                    "mother_iin": {
                        "type": "string",
                        "pattern": "^[0-9]{12}$",
                        "title": "Mother's IIN",
                        "x-title": {"kk": "Ананың ЖСН", "ru": "ИИН матери", "en": "Mother's IIN"},
                    },
                    "child_birth_date": {
                        "type": "string",
                        "format": "date",
                        "x-title": {
                            "kk": "Баланың туған күні",
                            "ru": "Дата рождения ребенка",
                            "en": "Child's date of birth",
                        },
                    },
                },
                "additionalProperties": False,
            },
        }
        body.update(overrides)
        return body

    return make
