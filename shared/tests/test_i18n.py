"""Problems in the caller's language: Kazakh by default, Russian or English on request,
with the same codes and pointers whichever is chosen, and catalogs that agree."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field, field_validator

from portal_shared.errors import Conflict, Forbidden, NotFound, install_error_handlers
from portal_shared.i18n import LANGUAGES, Message, catalog, negotiate, placeholders, translate
from portal_shared.validation import invalid
from portal_testing.service import client_for


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "kk"),
        ("", "kk"),
        ("ru", "ru"),
        ("ru-RU,ru;q=0.9,en;q=0.8", "ru"),
        ("kk-KZ", "kk"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, en;q=0.5, ru;q=0.7", "ru"),
        ("de", "kk"),
        ("*", "kk"),
        ("ru;q=0, en", "en"),
        ("en;q=0.2, ru;q=0.2", "en"),  # a tie goes to the first listed
        ("ru;q=bogus, en;q=0.1", "en"),
    ],
)
def test_accept_language_is_negotiated(header: str | None, language: str) -> None:
    assert negotiate(header) == language


def test_every_text_is_in_every_language_with_the_same_parameters() -> None:
    english = catalog("en")
    for language in LANGUAGES:
        texts = catalog(language)
        assert texts.keys() == english.keys(), language
        for key, text in texts.items():
            assert text.strip(), (language, key)
            assert placeholders(text) == placeholders(english[key]), (language, key)


def test_kazakh_and_russian_are_not_english() -> None:
    english = catalog("en")
    for language in ("kk", "ru"):
        titles = [k for k in english if k.startswith(("title.", "error.", "validation."))]
        same = [k for k in titles if catalog(language)[k] == english[k]]
        # "Validation failed" stands in for the three edge refusals' titles in English only.
        assert not same, (language, same)


def test_a_message_is_worded_in_the_language_asked_for_and_so_are_its_parameters() -> None:
    reason = Message("validation.iin-check-digit")
    sentence = Message("error.invalid-iin", {"problem": reason})
    assert sentence.in_language("ru") == "ИИН неверен: контрольная (12-я) цифра не сходится"
    assert str(sentence) == "The IIN is not valid: the check digit (12th) does not match"
    assert translate("kk", "error.invalid-iin", {"problem": reason}) == (
        "ЖСН дұрыс емес: бақылау цифры (12-цифр) сәйкес келмейді"
    )


class Body(BaseModel):
    count: int = Field(ge=1)
    name: str = Field(max_length=5)
    channels: list[str] = Field(default_factory=list)

    @field_validator("channels")
    @classmethod
    def _once(cls, channels: list[str]) -> list[str]:
        if len(set(channels)) != len(channels):
            raise invalid("channels-repeated")
        return channels


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/thing")
    async def thing() -> None:
        raise NotFound(message_key="error.request-not-found", params={"id": "42"})

    @app.get("/plain")
    async def plain() -> None:
        raise Forbidden("Only on Tuesdays")

    @app.get("/bare")
    async def bare() -> None:
        raise Conflict(errors=[{"location": "body.x", "message": Message("validation.not-null")}])

    @app.post("/count")
    async def count(body: Body) -> int:
        return body.count

    return app


async def test_a_problem_is_in_kazakh_when_the_caller_names_no_language() -> None:
    async with client_for(_app()) as client:
        response = await client.get("/thing", headers={"Accept-Language": ""})
    assert response.headers["content-language"] == "kk"
    assert "Accept-Language" in response.headers["vary"]
    problem = response.json()
    assert problem["title"] == "Табылмады"
    assert problem["detail"] == translate("kk", "error.request-not-found", {"id": "42"})
    assert "42" in problem["detail"]
    assert problem["code"] == "not-found"


async def test_a_problem_follows_accept_language() -> None:
    async with client_for(_app()) as client:
        answers = {
            language: await client.get("/thing", headers={"Accept-Language": header})
            for language, header in {"kk": "kk-KZ", "ru": "ru-RU", "en": "en"}.items()
        }
    for language, response in answers.items():
        assert response.headers["content-language"] == language
        assert response.json()["code"] == "not-found"
    details = {response.json()["detail"] for response in answers.values()}
    assert len(details) == 3
    assert answers["ru"].json()["detail"] == "Нет заявки 42, которую вы можете видеть"
    assert answers["ru"].json()["title"] == "Не найдено"  # noqa: RUF001


async def test_an_error_without_a_key_keeps_its_english_detail_under_a_translated_title() -> None:
    async with client_for(_app()) as client:
        response = await client.get("/plain", headers={"Accept-Language": "ru"})
    assert response.json()["title"] == "Не разрешено"  # noqa: RUF001
    assert response.json()["detail"] == "Only on Tuesdays"
    assert response.json()["code"] == "forbidden"


async def test_an_error_raised_bare_reads_its_title_and_its_listed_messages_translated() -> None:
    async with client_for(_app()) as client:
        response = await client.get("/bare", headers={"Accept-Language": "ru"})
    problem = response.json()
    assert problem["title"] == problem["detail"] == "Конфликт"
    assert problem["errors"] == [
        {"location": "body.x", "message": "не может быть null", "code": "conflict", "pointer": "/x"}
    ]


async def test_a_validator_s_own_refusal_is_worded_by_the_catalog() -> None:
    bad = {"count": 1, "name": "ok", "channels": ["a", "a"]}
    async with client_for(_app()) as client:
        answers = {
            language: (await client.post("/count", json=bad, headers={"Accept-Language": language}))
            for language in LANGUAGES
        }
    for language, response in answers.items():
        [error] = response.json()["errors"]
        assert (error["pointer"], error["code"]) == ("/channels", "invalid")
        assert error["message"] == translate(language, "validation.channels-repeated")
        assert error["message"] in response.json()["detail"]
    assert answers["en"].json()["errors"][0]["message"] == "channels must not repeat"


async def test_validation_errors_have_pointers_codes_and_translated_messages() -> None:
    bad = {"count": 0, "name": "toolong"}
    async with client_for(_app()) as client:
        answers = {
            language: await client.post("/count", json=bad, headers={"Accept-Language": language})
            for language in LANGUAGES
        }
    shapes = {
        language: sorted((e["pointer"], e["code"]) for e in r.json()["errors"])
        for language, r in answers.items()
    }
    expected = [("/count", "minimum"), ("/name", "maxLength")]
    assert shapes["kk"] == shapes["ru"] == shapes["en"] == expected
    russian = {e["pointer"]: e["message"] for e in answers["ru"].json()["errors"]}
    assert russian["/count"] == "Значение поля «count» должно быть не меньше 1"
    assert answers["ru"].json()["title"] == "Ошибка проверки данных"
    assert answers["ru"].json()["detail"].startswith("Запрос неверен")
    # English keeps pydantic's wording, which clients have read since the first version.
    english = {e["pointer"]: e["message"] for e in answers["en"].json()["errors"]}
    assert english["/count"] == "Input should be greater than or equal to 1"


async def test_starlette_s_own_404_is_translated() -> None:
    async with client_for(_app()) as client:
        response = await client.get("/nowhere", headers={"Accept-Language": "ru"})
    assert response.status_code == 404
    assert response.json()["title"] == "Не найдено"  # noqa: RUF001
    assert response.json()["detail"] == "По этому адресу ничего нет"
    assert response.json()["code"] == "not-found"
    assert response.headers["content-language"] == "ru"
