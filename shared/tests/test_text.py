"""The text and JSON types every schema uses refuse what PostgreSQL cannot store or a reader
cannot read back, each with one clear message, and nothing else."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import StringConstraints, TypeAdapter, ValidationError

from portal_shared.text import (
    SINGLE_LINE,
    PublishableJSON,
    SingleLine,
    StorableJSON,
    StorableText,
)


def refusal(adapter: TypeAdapter[Any], value: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python(value)
    [error] = caught.value.errors()
    return str(error["msg"])


def test_storable_text_takes_newlines_and_refuses_nul_and_lone_surrogates() -> None:
    text = TypeAdapter(StorableText)
    assert text.validate_python("line one\n\tline two ✓") == "line one\n\tline two ✓"
    assert refusal(text, "a\x00b") == "text must not contain the NUL character (\\u0000)"
    assert refusal(text, "a\ud800") == "text must not contain unpaired UTF-16 surrogates"


def test_a_single_line_has_no_control_characters() -> None:
    line = TypeAdapter(SingleLine)
    assert line.validate_python("Алматы, пр. Абая 1") == "Алматы, пр. Абая 1"
    for bad in ("a\nb", "a\tb", "a\x7f", "a\x00"):
        assert refusal(line, bad) == "must not contain control characters"
    assert refusal(line, "\udfff") == "text must not contain unpaired UTF-16 surrogates"


def test_constraints_apply_before_the_check() -> None:
    # Stripped first, so a trailing newline is trimmed rather than refused.
    name = TypeAdapter(
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=5), SINGLE_LINE]
    )
    assert name.validate_python("  Abai\n") == "Abai"
    assert "at most 5 characters" in refusal(name, "Kunanbaiuly")


def test_storable_json_names_the_place_of_what_it_refuses() -> None:
    data = TypeAdapter(StorableJSON)
    value = {"a": [1, 2.5, "ok", {"b": None, "c": True}], "big": 2**70}
    assert data.validate_python(value) == value
    assert refusal(data, {"a": [1, {"k\x00": 1}]}).endswith("(at /a/1/k\x00)")
    assert refusal(data, {"a/b": {"~": "\ud800"}}) == (
        "text must not contain unpaired UTF-16 surrogates (at /a~1b/~0)"
    )
    assert refusal(data, {"x": [float("nan")]}) == (
        "numbers must be finite: JSON has no NaN or Infinity (at /x/0)"
    )


def test_publishable_json_keeps_integers_within_64_bits() -> None:
    schema = TypeAdapter(PublishableJSON)
    fits = {"min": -(2**63), "max": 2**64 - 1}
    assert schema.validate_python(fits) == fits
    assert refusal(schema, {"maxProperties": 2**70}) == (
        "integers must fit in 64 bits (at /maxProperties)"
    )


def test_deep_values_are_checked_without_recursion() -> None:
    value: Any = "\x00"
    for _ in range(5000):
        value = {"k": [value]}
    assert refusal(TypeAdapter(StorableJSON), value).startswith("text must not contain the NUL")
