"""Checking form data against a service's JSON Schema (forms.py), without HTTP or a
database: every violation listed with where it is, answers bounded, validators kept per
published version."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from service_requests.errors import FormInvalid
from service_requests.forms import MAX_LISTED, MAX_MESSAGE, Validators, check_form

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["purpose", "arrival_date"],
    "additionalProperties": False,
    "properties": {
        "purpose": {"type": "string", "enum": ["work", "study"]},
        "arrival_date": {"type": "string", "format": "date"},
        "children": {
            "type": "array",
            "items": {"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}},
        },
    },
}


def checked(form: dict[str, Any], schema: dict[str, Any] = SCHEMA) -> None:
    check_form(Validators().add((uuid.uuid4(), 1), schema), form)


def refusal(form: dict[str, Any], schema: dict[str, Any] = SCHEMA) -> FormInvalid:
    with pytest.raises(FormInvalid) as refused:
        checked(form, schema)
    assert refused.value.status == 422
    return refused.value


def test_a_good_form_passes() -> None:
    checked({"purpose": "work", "arrival_date": "2026-12-01", "children": [{"age": 3}]})


def test_every_violation_is_listed_where_it_is() -> None:
    problem = refusal(
        {"purpose": "tourism", "arrival_date": "2026-02-30", "children": [{"age": -1}], "x": 1}
    )
    where = {e["location"] for e in problem.extra["errors"]}
    assert {"form_data.purpose", "form_data.arrival_date", "form_data.children[0].age"} <= where
    messages = " ".join(e["message"] for e in problem.extra["errors"])
    assert "'x'" in messages  # a field the form does not have
    assert problem.detail.startswith("4 field(s) of the form are not valid")


def test_a_missing_required_field_is_named() -> None:
    problem = refusal({"purpose": "work"})
    assert [e["location"] for e in problem.extra["errors"]] == ["form_data"]
    assert "arrival_date" in problem.extra["errors"][0]["message"]


def test_a_hostile_form_gets_a_bounded_answer() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "integer"}}
    problem = refusal({f"field-{n}": "x" * 1000 for n in range(500)}, schema)
    assert len(problem.extra["errors"]) == MAX_LISTED
    assert all(len(e["message"]) <= MAX_MESSAGE for e in problem.extra["errors"])
    assert all(len(e["location"]) <= 200 for e in problem.extra["errors"])
    assert problem.detail.startswith("500 field(s)")
    unexpected = refusal({f"f{n}": 1 for n in range(1000)}, {"additionalProperties": False})
    assert len(unexpected.extra["errors"][0]["message"]) <= MAX_MESSAGE


def test_a_schema_that_cannot_be_resolved_is_not_the_resident_s_fault() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "https://example.invalid/x"}}}
    problem = refusal({"a": 1}, schema)
    assert problem.extra["errors"][0]["location"] == "form_schema"


def test_validators_are_kept_per_version_and_the_oldest_dropped() -> None:
    kept = Validators(size=2)
    service = uuid.uuid4()
    first = kept.add((service, 1), SCHEMA)
    assert kept.get((service, 1)) is first
    assert kept.get((service, 2)) is None
    kept.add((service, 2), {"type": "object"})
    kept.add((service, 3), {"type": "object"})
    assert kept.get((service, 1)) is None
    assert kept.get((service, 2)) is not None
    assert kept.get((service, 3)) is not None
