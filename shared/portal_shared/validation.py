"""Validation errors as the contract lists them: `{pointer, code, message}` per violation.

`code` is a JSON Schema keyword where one fits (`required`, `pattern`, `enum`, `minimum`,
`maxLength`, `type`, `format`, `additionalProperties`...), the same codes the requests
service gives for a form; `message` is the catalog's `validation.<code>` text in the
caller's language, naming the field. English keeps pydantic's own wording, which clients
have read since the first version; `location` (dotted, `body.form_data.x`) stays beside
`pointer` for them too. Query, path and header parameters have no place in the body: their
entries carry `parameter` (the name) instead of a pointer.

A validator with a refusal of its own raises `invalid(name, **params)`: the catalog's
`validation.<name>` in every language (English included), with code `invalid` as any
other value error. A plain `ValueError` would reach a Kazakh or Russian caller only as
"the field is not valid" (services/*/schemas.py never raise one: shared/tests checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic_core import PydanticCustomError

from portal_shared.i18n import Message, catalog, translate

__all__ = [
    "field_message",
    "invalid",
    "json_pointer",
    "type_name",
    "validation_errors",
    "violation_message",
]

# pydantic error type -> (code, the ctx entry that is the limit)
_BY_TYPE: dict[str, tuple[str, str | None]] = {
    "missing": ("required", None),
    "string_too_short": ("minLength", "min_length"),
    "string_too_long": ("maxLength", "max_length"),
    "too_short": ("minItems", "min_length"),
    "too_long": ("maxItems", "max_length"),
    "string_pattern_mismatch": ("pattern", "pattern"),
    "greater_than_equal": ("minimum", "ge"),
    "greater_than": ("exclusiveMinimum", "gt"),
    "less_than_equal": ("maximum", "le"),
    "less_than": ("exclusiveMaximum", "lt"),
    "multiple_of": ("multipleOf", "multiple_of"),
    "literal_error": ("enum", "expected"),
    "enum": ("enum", "expected"),
    "extra_forbidden": ("additionalProperties", None),
    "json_invalid": ("json", None),
    "unstorable": ("unstorable", None),
    "control_characters": ("control_characters", None),
    "value_error": ("invalid", None),
    "assertion_error": ("invalid", None),
}
# The JSON type a pydantic "<kind>_type"/"<kind>_parsing" error expected.
_TYPES = {
    "int": "integer",
    "float": "number",
    "decimal": "number",
    "bool": "boolean",
    "string": "string",
    "str": "string",
    "bytes": "string",
    "dict": "object",
    "model": "object",
    "model_attributes": "object",
    "list": "array",
    "tuple": "array",
    "set": "array",
}
_FORMATS = {"uuid": "uuid", "date": "date", "datetime": "date-time", "url": "uri"}


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def json_pointer(path: Sequence[Any]) -> str:
    """RFC 6901: `("a", 0, "b/c")` -> `/a/0/b~1c`."""
    return "".join("/" + _escape(str(part)) for part in path)


def type_name(language: str, json_type: str) -> str:
    return translate(language, f"type.{json_type}", default=json_type)


def field_message(language: str, code: str, field: str, limit: Any = "") -> str:
    """The catalog's text for a violation of `code` by the field titled `field`."""
    key = f"validation.{code}"
    params = {"field": field, "limit": limit}
    text = translate(language, key, params, default="")
    return text or translate(language, "validation.invalid", params)


def _code(kind: str, ctx: dict[str, Any]) -> tuple[str, Any]:
    known = _BY_TYPE.get(kind)
    if known is not None:
        code, limit_name = known
        limit = ctx.get(limit_name, "") if limit_name else ""
        return code, limit
    base = kind.rsplit("_", 1)[0]
    if kind.endswith(("_type", "_parsing")) and base in _TYPES:
        return "type", _TYPES[base]
    for prefix, fmt in _FORMATS.items():
        if kind.startswith(prefix):
            return "format", fmt
    return "invalid", ""


def invalid(name: str | Message, **params: Any) -> PydanticCustomError:
    """A validator's refusal worded by the catalog's `validation.<name>` (a name with a
    hyphen, so it never takes the place of one of pydantic's own error types), or by a
    `Message` of such a key that a check returned."""
    if isinstance(name, Message):
        params = {**name.params, **params}
        name = name.key.removeprefix("validation.")
    return PydanticCustomError(name, catalog("en")[f"validation.{name}"], params)


def _custom(kind: str) -> bool:
    return "-" in kind and f"validation.{kind}" in catalog("en")


def _worded(err: Any) -> tuple[str, Message]:
    """The code of one of pydantic's errors, and its message before a language is chosen."""
    loc = tuple(err.get("loc", ()))
    kind = str(err.get("type", ""))
    ctx = dict(err.get("ctx") or {})
    names = [p for p in loc[1:] if isinstance(p, str)]
    field = names[-1] if names else str(loc[0]) if loc else "body"
    if _custom(kind):
        return "invalid", Message(f"validation.{kind}", {"field": field, **ctx})
    code, limit = _code(kind, ctx)
    if code == "additionalProperties":
        limit = field
    elif code == "type":
        limit = Message(f"type.{limit}") if f"type.{limit}" in catalog("en") else limit
    elif code == "enum":
        limit = str(limit)
    key = f"validation.{code}"
    return code, Message(
        key if key in catalog("en") else "validation.invalid", {"field": field, "limit": limit}
    )


def violation_message(err: Any) -> Message:
    """What one of pydantic's errors says, to be worded in the caller's language (a use case
    that validates a model itself names the first violation with it)."""
    return _worded(err)[1]


def _entry(err: Any, language: str) -> dict[str, Any]:
    loc = tuple(err.get("loc", ()))
    code, worded = _worded(err)
    original = str(err.get("msg", ""))
    custom = _custom(str(err.get("type", "")))
    message = original if language == "en" and not custom else worded.in_language(language)
    entry: dict[str, Any] = {"location": ".".join(str(p) for p in loc), "code": code}
    if loc and loc[0] == "body":
        entry["pointer"] = json_pointer(loc[1:])
    elif len(loc) > 1:
        entry["parameter"] = str(loc[1])
    entry["message"] = message
    return entry


def validation_errors(exc: RequestValidationError, language: str = "en") -> list[dict[str, Any]]:
    """FastAPI's validation errors as the contract's entries, in `language`."""
    return [_entry(err, language) for err in exc.errors()]
