"""A refused application reads in the resident's language: the same invalid submission
asked for in Kazakh, Russian and English names each field by its title in that language,
with the same codes and pointers (issue 17, acceptance 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.conftest import Parties, World

TITLED_FORM: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["applicant_iin", "purpose"],
    "additionalProperties": False,
    "properties": {
        "applicant_iin": {
            "type": "string",
            "pattern": "^[0-9]{12}$",
            "x-title": {
                "kk": "Өтініш берушінің ЖСН",
                "ru": "ИИН заявителя",
                "en": "Applicant's IIN",
            },
        },
        "purpose": {
            "type": "string",
            "enum": ["work", "study"],
            "x-title": {"kk": "Мақсаты", "ru": "Цель", "en": "Purpose"},
        },
        "stay_days": {
            "type": "integer",
            "minimum": 1,
            "x-title": {"kk": "Болу күндері", "ru": "Дней пребывания", "en": "Days of stay"},
        },
    },
}
TITLES = {
    "kk": ("Өтініш берушінің ЖСН", "Мақсаты", "Болу күндері"),
    "ru": ("ИИН заявителя", "Цель", "Дней пребывания"),
    "en": ("Applicant's IIN", "Purpose", "Days of stay"),
}


async def test_the_same_invalid_form_reads_in_kazakh_russian_and_english(
    client: httpx.AsyncClient, parties: Parties, world: World
) -> None:
    service_id = await world.service(parties.agency_id, form_schema=TITLED_FORM)
    body = {"service_id": str(service_id), "form_data": {"applicant_iin": "12", "stay_days": 0}}
    answers = {}
    for language in ("kk", "ru", "en"):
        headers = {**parties.resident(), "Accept-Language": language}
        answers[language] = await client.post("/api/v1/requests", json=body, headers=headers)

    details = set()
    shapes = set()
    for language, response in answers.items():
        assert response.status_code == 422
        assert response.headers["content-language"] == language
        problem = response.json()
        assert problem["code"] == "form-invalid"
        details.add(problem["detail"])
        shapes.add(tuple(sorted((e["pointer"], e["code"]) for e in problem["errors"])))
        by_pointer = {e["pointer"]: e["message"] for e in problem["errors"]}
        iin, purpose, days = TITLES[language]
        assert iin in by_pointer["/form_data/applicant_iin"]
        assert purpose in by_pointer["/form_data/purpose"]
        assert days in by_pointer["/form_data/stay_days"]
        # The detail sums the violations up, naming the fields the same way.
        assert iin in problem["detail"]
    assert len(details) == 3
    assert shapes == {
        (
            ("/form_data/applicant_iin", "pattern"),
            ("/form_data/purpose", "required"),
            ("/form_data/stay_days", "minimum"),
        )
    }


async def test_a_refused_form_is_in_kazakh_by_default(
    client: httpx.AsyncClient, parties: Parties, world: World
) -> None:
    service_id = await world.service(parties.agency_id, form_schema=TITLED_FORM)
    body = {"service_id": str(service_id), "form_data": {"applicant_iin": "1", "purpose": "work"}}
    headers = {**parties.resident(), "Accept-Language": ""}
    response = await client.post("/api/v1/requests", json=body, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-language"] == "kk"
    assert response.json()["title"] == "Форма деректері қызмет формасына сәйкес емес"
    assert "Өтініш берушінің ЖСН" in response.json()["errors"][0]["message"]
