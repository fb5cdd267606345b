"""The rules a service's `form_schema` must follow before it is saved.

It must be a valid JSON Schema (draft 2020-12) for an object, so the requests
service can validate an application's `form_data` with it. Every property, at
any depth, carries its title in the three languages as `x-title: {kk, ru, en}`
(`title` may hold a default-language copy for generic tools). References must
stay inside the schema: the requests service validates offline and must never
fetch a URL a catalog editor chose.
"""

from __future__ import annotations

from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from catalog.errors import InvalidFormSchema
from portal_shared.i18n import Message

LANGUAGES = ("kk", "ru", "en")
DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_BYTES = 64_000
# Far deeper than any form needs, and shallow enough that no recursive check can overflow.
MAX_DEPTH = 32
# Keywords whose values are data, not subschemas: a "properties" key inside them is no property.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples", "x-title", "x-help"})


def _pointer(path: list[str]) -> str:
    return "form_schema" + "".join(f"/{p}" for p in path)


Problem = dict[str, str | Message]


def _problem(location: str, key: str, **params: Any) -> Problem:
    return {"location": location, "message": Message(key, params)}


def form_schema_problems(schema: Any) -> list[Problem]:
    """Every rule `schema` breaks, as `{location, message}`; empty when it is acceptable."""
    if not isinstance(schema, dict):
        return [_problem("form_schema", "validation.schema-not-object")]
    if _depth(schema) > MAX_DEPTH:
        return [_problem("form_schema", "validation.schema-too-deep", limit=MAX_DEPTH)]
    if len(orjson.dumps(schema)) > MAX_BYTES:
        return [_problem("form_schema", "validation.schema-too-large", limit=MAX_BYTES)]
    dialect = schema.get("$schema", DIALECT)
    if not isinstance(dialect, str) or dialect.rstrip("#") != DIALECT:
        return [_problem("form_schema/$schema", "validation.schema-dialect", dialect=DIALECT)]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "".join(f"/{p}" for p in exc.path)
        # The validator's own finding stays in its English: it quotes the schema's keywords.
        return [_problem(f"form_schema{where}", "validation.schema-invalid", reason=exc.message)]
    problems: list[Problem] = []
    if schema.get("type") != "object":
        problems.append(_problem("form_schema/type", "validation.schema-root-object"))
    _walk(schema, [], problems)
    return problems


def _depth(root: Any) -> int:
    """How deeply objects and arrays nest, measured without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node
        if isinstance(node, (dict, list)):
            stack.extend(
                (child, depth + 1) for child in children if isinstance(child, (dict, list))
            )
    return deepest


def _walk(node: Any, path: list[str], problems: list[Problem]) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, [*path, str(i)], problems)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = [*path, key]
        if key in ("$ref", "$dynamicRef") and isinstance(value, str) and not value.startswith("#"):
            problems.append(_problem(_pointer(here), "validation.schema-outside-ref"))
        elif key == "properties" and isinstance(value, dict):
            for name, sub in value.items():
                _check_titles(sub, [*here, name], problems)
                _walk(sub, [*here, name], problems)
        elif key not in _DATA_KEYWORDS:
            _walk(value, here, problems)


def _check_titles(prop: Any, path: list[str], problems: list[Problem]) -> None:
    titles = prop.get("x-title") if isinstance(prop, dict) else None
    if not isinstance(titles, dict) or any(
        not isinstance(titles.get(lang), str) or not titles[lang].strip() for lang in LANGUAGES
    ):
        problems.append(_problem(_pointer([*path, "x-title"]), "validation.schema-titles"))


def check_form_schema(schema: Any) -> None:
    """Raise `InvalidFormSchema` listing every problem, or return if the schema is acceptable."""
    problems = form_schema_problems(schema)
    if problems:
        first = problems[0]
        raise InvalidFormSchema(
            message_key="error.form-schema" if len(problems) == 1 else "error.form-schema-more",
            params={
                "location": first["location"],
                "problem": first["message"],
                "more": len(problems) - 1,
            },
            errors=problems,
        )


def localize_form_schema(schema: Any, lang: str) -> Any:
    """A copy whose properties' `title` is their `x-title` in `lang`, for flat-string clients."""
    if isinstance(schema, list):
        return [localize_form_schema(item, lang) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DATA_KEYWORDS:
            out[key] = value
        else:
            out[key] = localize_form_schema(value, lang)
    titles = schema.get("x-title")
    if isinstance(titles, dict) and isinstance(titles.get(lang), str):
        out["title"] = titles[lang]
    return out
