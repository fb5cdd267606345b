"""The demo data file: every form it publishes is closed, and a mistake in it names its service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from catalog.demo import DemoDataError, DemoService, demo_services, load_demo_services

# Keywords whose values are data, not subschemas (an "x-title" holds texts, an "enum" values).
DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples", "x-title", "x-help"})


def object_schemas(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema that describes an object, with its JSON pointer."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from object_schemas(item, f"{path}/{i}")
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node:
        yield path or "/", node
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            for name, sub in value.items():
                yield from object_schemas(sub, f"{path}/properties/{name}")
        elif key not in DATA_KEYWORDS:
            yield from object_schemas(value, f"{path}/{key}")


@pytest.mark.parametrize("demo", demo_services(), ids=lambda d: d.body.code)
def test_every_object_in_a_demo_form_is_closed(demo: DemoService) -> None:
    """A resident cannot stash data the form does not ask for, at any depth."""
    found = list(object_schemas(demo.body.form_schema))
    assert found, "the form's root is an object"
    open_ones = [path for path, schema in found if schema.get("additionalProperties") is not False]
    assert not open_ones, f"open objects in {demo.body.code}: {open_ones}"


def test_a_family_member_with_extra_data_is_refused() -> None:
    benefit = next(d for d in demo_services() if d.body.code == "social-benefit")
    validator = Draft202012Validator(benefit.body.form_schema)
    member = {"iin": "900101300123", "relation": "child"}
    form = {"applicant_iin": "900101300123", "family_members": [member], "monthly_income": 0}
    assert validator.is_valid(form)
    stash = {**form, "family_members": [{**member, "notes": {"anything": "at all"}}]}
    assert not validator.is_valid(stash)


def test_every_form_property_shows_its_english_title_to_generic_tools() -> None:
    for demo in demo_services():
        for name, prop in demo.body.form_schema["properties"].items():
            assert prop["title"] == prop["x-title"]["en"], (demo.body.code, name)


MINIMAL = """
mrp_kzt: 4325
documents: {photo: {kk: Фотосурет, ru: Фотография, en: Photograph}}
refusal_grounds: {}
services:
- code: photo-service
  agency_code: BKR-PSC
  name: {kk: Сурет, ru: Фото, en: Photo}
  description: {kk: Сурет, ru: Фото, en: Photo}
  term_working_days: 1
  fee_mrp: '0.5'
  result: {kk: Сурет, ru: Фото, en: Photo}
  required_documents: [DOCUMENTS]
  refusal_grounds: []
  channels: [portal]
  form_schema:
    type: object
    properties:
      note: {type: string, x-title: {kk: X, ru: X, en: Note}}
    additionalProperties: false
"""


def test_a_valid_entry_becomes_the_body_the_api_takes() -> None:
    (demo,) = load_demo_services(MINIMAL.replace("DOCUMENTS", "photo"))
    assert demo.agency_code == "BKR-PSC"
    assert str(demo.body.fee.amount) == "2162.5"
    assert demo.body.required_documents[0].name.en == "Photograph"
    assert demo.body.form_schema["properties"]["note"]["title"] == "Note"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("DOCUMENTS", "passport"), "service photo-service: unknown documents: passport"),
        (("x-title: {kk: X, ru: X, en: Note}", "maxLength: 5"), "service photo-service: "),
        (("fee_mrp: '0.5'", "fee_mrp: lots"), "fee_mrp"),
        (("channels: [portal]", "channels: [portal]\n  colour: red"), "colour"),
    ],
)
def test_a_mistake_in_the_demo_file_is_refused_naming_it(
    change: tuple[str, str], message: str
) -> None:
    text = MINIMAL.replace(*change).replace("DOCUMENTS", "photo")
    with pytest.raises(DemoDataError, match=message):
        load_demo_services(text)
