"""Pure rules: what a form schema must be, and how a client's language is chosen."""

from __future__ import annotations

from typing import Any

import pytest

from catalog.formschema import form_schema_problems
from catalog.negotiation import choose_language

TITLE = {"kk": "ЖСН", "ru": "ИИН", "en": "IIN"}


def schema(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def test_a_titled_object_schema_is_accepted() -> None:
    nested = {
        "type": "object",
        "x-title": TITLE,
        "properties": {"street": {"type": "string", "x-title": TITLE}},
    }
    assert form_schema_problems(schema(iin={"type": "string", "x-title": TITLE}, addr=nested)) == []


@pytest.mark.parametrize(
    ("candidate", "where"),
    [
        ([], "form_schema"),
        ({"type": "object", "minProperties": -1}, "form_schema/minProperties"),
        ({"type": "string"}, "form_schema/type"),
        ({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}, "$schema"),
        (schema(iin={"type": "string"}), "form_schema/properties/iin/x-title"),
        (
            schema(a={"type": "object", "x-title": TITLE, "properties": {"b": True}}),
            "form_schema/properties/a/properties/b/x-title",
        ),
        (schema(iin={"$ref": "https://evil.example/s.json", "x-title": TITLE}), "iin/$ref"),
    ],
)
def test_schemas_that_break_a_rule_say_where(candidate: Any, where: str) -> None:
    problems = form_schema_problems(candidate)
    assert problems, candidate
    assert where in str(problems[0]["location"])


def test_absurdly_deep_schemas_are_refused_not_crashed_on() -> None:
    deep: dict[str, Any] = {"type": "object"}
    for _ in range(400):
        deep = {"type": "object", "properties": {"x": {**deep, "x-title": TITLE}}}
    assert "nested deeper" in str(form_schema_problems(deep)[0]["message"])


def test_data_keywords_are_not_mistaken_for_properties() -> None:
    field = {"type": "object", "x-title": TITLE, "default": {"properties": {"x": 1}}}
    assert form_schema_problems(schema(f=field)) == []


@pytest.mark.parametrize(
    ("lang", "header", "expected"),
    [
        ("en", "ru", "en"),
        (None, None, None),
        (None, "de, fr;q=0.5", None),
        (None, "kk-KZ", "kk"),
        (None, "de;q=1, ru;q=0.8, en;q=0.9", "en"),
        (None, "ru, en", "ru"),
        (None, "ru;q=0, en;q=bad", None),
    ],
)
def test_language_choice(lang: Any, header: str | None, expected: str | None) -> None:
    assert choose_language(lang, header) == expected
