"""A refusal reads in the caller's language wherever it comes from (issue 17).

The same mistake, asked in Kazakh, Russian and English, gets three different titles and
details and one `code`, from identity (a role listed twice; an IIN whose check digit is
wrong, a reason inside a sentence), notifications (another person's inbox), the catalog (a
validator's own refusal: channels that repeat) and the gateway itself (an origin it does
not serve). Kazakh is the answer to a caller who names no language.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from catalog.__main__ import SERVICE_ROOT as CATALOG_ROOT
from catalog.app import create_app as create_catalog
from catalog.settings import CatalogSettings
from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings
from identity.__main__ import SERVICE_ROOT as IDENTITY_ROOT
from identity.app import create_app as create_identity
from identity.settings import IdentitySettings
from notifications.__main__ import SERVICE_ROOT as NOTIFICATIONS_ROOT
from notifications.app import create_app as create_notifications
from notifications.settings import NotificationsSettings
from portal_testing.oidc import valid_iin
from portal_testing.service import TestIssuer, client_for, migrated_settings, running

# What a browser set to each language sends.
ASKED = {"kk": "kk-KZ,kk;q=0.9", "ru": "ru-RU,ru;q=0.9,en;q=0.8", "en": "en-GB,en;q=0.9"}
PROBLEM = "application/problem+json"
QUIET: dict[str, Any] = {
    "run_relay": False,
    "run_consumers": False,
    "kafka_group_prefix": "languages.",
}


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="module")
async def clients(
    postgres_url: str, kafka_bootstrap: str, issuer: TestIssuer
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Identity, notifications and the catalog in-process on databases of their own (no
    relay, no consumers: nothing here is heard by anyone), and a gateway with no upstream."""

    def database(name: str) -> str:
        return f"{postgres_url}/{name}_languages"

    identity = await migrated_settings(
        IdentitySettings,
        IDENTITY_ROOT,
        database("identity"),
        kafka_bootstrap,
        argon2_memory_kib=1024,
        argon2_time_cost=1,
        **QUIET,
    )
    notifications = await migrated_settings(
        NotificationsSettings,
        NOTIFICATIONS_ROOT,
        database("notifications"),
        kafka_bootstrap,
        run_sender=False,
        **QUIET,
    )
    catalog = await migrated_settings(
        CatalogSettings, CATALOG_ROOT, database("catalog"), kafka_bootstrap, **QUIET
    )
    apps = {
        "identity": create_identity(identity),
        "notifications": create_notifications(notifications),
        "catalog": create_catalog(catalog),
    }
    async with contextlib.AsyncExitStack() as stack:
        out = {}
        for name, app in apps.items():
            await stack.enter_async_context(running(app, issuer))
            out[name] = await stack.enter_async_context(client_for(app))
        gateway = httpx.ASGITransport(app=create_gateway(GatewaySettings(hsts=False)))
        out["gateway"] = await stack.enter_async_context(
            httpx.AsyncClient(transport=gateway, base_url="http://localhost:8000")
        )
        yield out


async def in_each_language(
    client: httpx.AsyncClient, method: str, url: str, *, headers: dict[str, str], **kwargs: Any
) -> dict[str, dict[str, Any]]:
    """The problem `client` answers in each language, checked to be one problem."""
    problems = {}
    for language, header in ASKED.items():
        response = await client.request(
            method, url, headers={**headers, "Accept-Language": header}, **kwargs
        )
        assert response.headers["content-type"] == PROBLEM, response.text
        assert response.headers["content-language"] == language
        problems[language] = response.json()
    statuses = {p["status"] for p in problems.values()}
    codes = {p["code"] for p in problems.values()}
    assert len(statuses) == len(codes) == 1, problems
    assert len({p["detail"] for p in problems.values()}) == 3, problems
    assert len({p["title"] for p in problems.values()}) == 3, problems
    return problems


async def test_a_role_listed_twice(
    clients: dict[str, httpx.AsyncClient], issuer: TestIssuer
) -> None:
    body = {
        "username": "clerk.twice",
        "password": "steppe-wind-2026",
        "given_name": "Aigerim",
        "family_name": "Sapar",
        "email": "clerk.twice@example.kz",
        "roles": ["admin", "admin"],
    }
    admin = issuer.headers(roles=["admin"])
    problems = await in_each_language(
        clients["identity"], "POST", "/api/v1/users", headers=admin, json=body
    )
    assert problems["en"]["code"] == "invalid-roles"
    assert problems["en"]["detail"] == "A role is listed twice"
    assert problems["ru"]["detail"] == "Роль указана дважды"
    assert problems["kk"]["detail"] == "Рөл екі рет көрсетілген"


async def test_an_iin_with_a_wrong_check_digit_says_why_in_the_same_language(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    iin = valid_iin(7)
    wrong = iin[:11] + str((int(iin[11]) + 1) % 10)
    body = {
        "iin": wrong,
        "given_name": "Aliya",
        "family_name": "Nurlanova",
        "email": "aliya.languages@example.kz",
        "phone": "+77011234567",
        "password": "steppe-wind-2026",
    }
    problems = await in_each_language(
        clients["identity"], "POST", "/api/v1/residents", headers={}, json=body
    )
    assert problems["en"]["code"] == "invalid-iin"
    assert problems["en"]["detail"] == "The IIN is not valid: the check digit (12th) does not match"
    assert problems["ru"]["detail"] == "ИИН неверен: контрольная (12-я) цифра не сходится"
    assert problems["kk"]["detail"] == "ЖСН дұрыс емес: бақылау цифры (12-цифр) сәйкес келмейді"


async def test_another_person_s_inbox(
    clients: dict[str, httpx.AsyncClient], issuer: TestIssuer
) -> None:
    resident = issuer.headers(roles=["resident"])
    url = f"/api/v1/notifications?account_id={uuid4()}"
    problems = await in_each_language(clients["notifications"], "GET", url, headers=resident)
    assert problems["en"]["status"] == 403
    assert problems["en"]["code"] == "forbidden"
    assert problems["en"]["detail"] == "Only an administrator may read another person's messages"
    assert (
        problems["ru"]["detail"] == "Читать сообщения другого человека может только администратор"
    )
    # Naming no language is asking in Kazakh.
    unnamed = await clients["notifications"].get(url, headers={**resident, "Accept-Language": ""})
    assert unnamed.headers["content-language"] == "kk"
    assert unnamed.json()["detail"] == problems["kk"]["detail"]


async def test_a_validator_s_own_refusal(
    clients: dict[str, httpx.AsyncClient], issuer: TestIssuer
) -> None:
    text = {"kk": "Мәтін", "ru": "Текст", "en": "Text"}
    body = {
        "code": "twice-by-portal",
        "name": text,
        "description": text,
        "agency_id": str(uuid4()),
        "term_working_days": 1,
        "fee": {"amount": 0, "currency": "KZT"},
        "result": text,
        "channels": ["portal", "portal"],
        "form_schema": {"type": "object", "properties": {}},
    }
    admin = issuer.headers(roles=["admin"])
    problems = await in_each_language(
        clients["catalog"], "POST", "/api/v1/services", headers=admin, json=body
    )
    assert problems["en"]["code"] == "validation-failed"
    errors = {language: p["errors"] for language, p in problems.items()}
    assert [(e["pointer"], e["code"]) for e in errors["kk"]] == [("/channels", "invalid")]
    assert [(e["pointer"], e["code"]) for e in errors["ru"]] == [("/channels", "invalid")]
    assert errors["en"][0]["message"] == "channels must not repeat"
    assert errors["ru"][0]["message"] == "каналы не должны повторяться"
    assert errors["kk"][0]["message"] == "арналар қайталанбауы керек"
    for language, problem in problems.items():
        assert errors[language][0]["message"] in problem["detail"]


async def test_the_gateway_s_own_refusal(clients: dict[str, httpx.AsyncClient]) -> None:
    origin = {"Origin": "https://elsewhere.example"}
    problems = await in_each_language(clients["gateway"], "GET", "/api/v1/agencies", headers=origin)
    assert problems["en"]["status"] == 403
    assert problems["en"]["code"] == "origin-not-allowed"
    assert problems["en"]["detail"].startswith(
        "The origin https://elsewhere.example may not call this API from a browser"
    )
    assert problems["ru"]["detail"].startswith("Источнику https://elsewhere.example нельзя")
    assert problems["kk"]["detail"].startswith("https://elsewhere.example көзіне")
