"""Checking an application's form data against the state service's published JSON Schema.

Each violation becomes a `Violation`: a JSON Pointer into the submitted body
(`/form_data/...`), a code (the JSON Schema keyword that failed: `required`, `pattern`,
`enum`, `minimum`, `type`, `format`, `additionalProperties`...) and what the message needs:
the field's titles (its `x-title`, `{kk, ru, en}` or one text, else its `title`, else its
name) and the limit it broke. `FormInvalid` writes the messages in the caller's language
when the problem is rendered, so the same refusal reads in Kazakh, Russian or English with
the same codes and pointers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError
from referencing.exceptions import Unresolvable

from portal_shared.validation import json_pointer
from service_requests.errors import FormInvalid, Violation

_FORMATS = FormatChecker()


def _location(path: Sequence[Any]) -> str:
    return "form_data" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


MAX_LISTED = 50
MAX_LOCATION = 200
MAX_LIMIT = 120
MAX_MESSAGE = 300


def _bounded(text: str, size: int = MAX_LIMIT) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


# A published version of a state service: (service id, version number).
Version = tuple[UUID, int]


class Validators:
    """Validators of published form schemas, kept by (service id, version).

    A published version never changes, so its validator is built once per process rather
    than on every submission or resubmission; the oldest is dropped when `size` are kept."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._kept: dict[Version, Draft202012Validator] = {}

    def get(self, key: Version) -> Draft202012Validator | None:
        return self._kept.get(key)

    def add(self, key: Version, schema: dict[str, Any]) -> Draft202012Validator:
        if len(self._kept) >= self.size:
            del self._kept[next(iter(self._kept))]
        validator = self._kept[key] = Draft202012Validator(schema, format_checker=_FORMATS)
        return validator


def _subschema(schema: Any, path: Sequence[Any]) -> Any:
    """The schema of the value at `path`, following `properties`, `prefixItems` and
    `items` (enough for the forms the catalog publishes); None where it cannot tell."""
    for part in path:
        if not isinstance(schema, Mapping):
            return None
        if isinstance(part, int):
            prefix = schema.get("prefixItems")
            if isinstance(prefix, list) and part < len(prefix):
                schema = prefix[part]
            else:
                schema = schema.get("items")
        else:
            properties = schema.get("properties")
            schema = properties.get(part) if isinstance(properties, Mapping) else None
    return schema


def _titles(root: Any, path: Sequence[Any]) -> dict[str, str] | str:
    """The field's titles by language, or its one title, or its name."""
    name = next((str(p) for p in reversed(path) if not isinstance(p, int)), "form_data")
    schema = _subschema(root, path)
    if isinstance(schema, Mapping):
        titled = schema.get("x-title")
        if isinstance(titled, Mapping):
            texts = {str(k): str(v) for k, v in titled.items() if isinstance(v, str)}
            if texts:
                return texts
        if isinstance(titled, str) and titled:
            return titled
        if isinstance(schema.get("title"), str) and schema["title"]:
            return str(schema["title"])
    return name


def _limit(error: ValidationError) -> tuple[str, str]:
    """The limit a violation broke, and how it reads (`type`/`format` are translated)."""
    value = error.validator_value
    if error.validator == "type":
        return " | ".join(value) if isinstance(value, list) else str(value), "type"
    if error.validator == "format":
        return str(value), "format"
    if error.validator == "enum" and isinstance(value, list):
        return _bounded(", ".join(str(v) for v in value)), "text"
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return _bounded(str(value)), "text"
    return "", "text"


def _violations(root: Any, error: ValidationError) -> list[Violation]:
    path = list(error.absolute_path)
    code = str(error.validator)
    if code == "required" and isinstance(error.instance, Mapping):
        missing = [
            str(p)
            for p in error.validator_value
            if p not in error.instance and error.message.startswith(repr(p))
        ][:1]
        return [
            Violation(
                pointer=json_pointer(["form_data", *path, name])[:MAX_LOCATION],
                location=_location(path)[:MAX_LOCATION],
                code="required",
                titles=_titles(root, [*path, name]),
            )
            for name in missing
        ]
    limit, kind = _limit(error)
    if code == "additionalProperties" and isinstance(error.instance, Mapping):
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        known = schema.get("properties", {})
        extras = [repr(k) for k in error.instance if k not in known]
        limit = _bounded(", ".join(extras)) if extras else ""
    return [
        Violation(
            pointer=json_pointer(["form_data", *path])[:MAX_LOCATION],
            location=_location(path)[:MAX_LOCATION],
            code=code,
            titles=_titles(root, path),
            limit=limit,
            limit_kind=kind,
        )
    ]


def check_form(validator: Draft202012Validator, form_data: dict[str, Any]) -> None:
    """Raise FormInvalid listing every violation, not just the first."""
    try:
        errors = sorted(validator.iter_errors(form_data), key=lambda e: list(map(str, e.path)))
    except (SchemaError, Unresolvable) as exc:
        # Schemas are checked when they arrive; this guards against a reference that
        # cannot be resolved, which is the catalog's fault, not the resident's.
        raise FormInvalid(
            message_key="error.form-unchecked",
            errors=[
                {
                    "location": "form_schema",
                    "pointer": "",
                    "code": "form-schema-unresolvable",
                    "message": str(exc)[:300],
                }
            ],
        ) from exc
    if errors:
        # Bounded, so a huge hostile form cannot make the answer huge too (a message such
        # as "'a', 'b', ... were unexpected" otherwise names every field it was sent).
        listed = [v for e in errors[:MAX_LISTED] for v in _violations(validator.schema, e)]
        raise FormInvalid.of(len(errors), listed[:MAX_LISTED], max_message=MAX_MESSAGE)
