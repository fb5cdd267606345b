"""Checking an application's form data against the state service's published JSON Schema."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from referencing.exceptions import Unresolvable

from service_requests.errors import FormInvalid

_FORMATS = FormatChecker()


def _location(path: Any) -> str:
    return "form_data" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


MAX_LISTED = 50
MAX_MESSAGE = 300


def _bounded(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."


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


def check_form(validator: Draft202012Validator, form_data: dict[str, Any]) -> None:
    """Raise FormInvalid listing every violation, not just the first."""
    try:
        errors = sorted(validator.iter_errors(form_data), key=lambda e: list(map(str, e.path)))
    except (SchemaError, Unresolvable) as exc:
        # Schemas are checked when they arrive; this guards against a reference that
        # cannot be resolved, which is the catalog's fault, not the resident's.
        raise FormInvalid(
            "The service's form cannot be checked right now; the agency has been told",
            errors=[{"location": "form_schema", "message": str(exc)[:300]}],
        ) from exc
    if errors:
        # Bounded, so a huge hostile form cannot make the answer huge too (a message such
        # as "'a', 'b', ... were unexpected" otherwise names every field it was sent).
        listed = [
            {"location": _location(e.absolute_path)[:200], "message": _bounded(e.message)}
            for e in errors[:MAX_LISTED]
        ]
        summary = "; ".join(f"{e['location']}: {e['message']}" for e in listed[:5])
        raise FormInvalid(
            f"{len(errors)} field(s) of the form are not valid: {summary}", errors=listed
        )
