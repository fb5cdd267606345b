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

LANGUAGES = ("kk", "ru", "en")
DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_BYTES = 64_000
# Far deeper than any form needs, and shallow enough that no recursive check can overflow.
MAX_DEPTH = 32
# Keywords whose values are data, not subschemas: a "properties" key inside them is no property.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples", "x-title", "x-help"})


def _pointer(path: list[str]) -> str:
    return "form_schema" + "".join(f"/{p}" for p in path)


def form_schema_problems(schema: Any) -> list[dict[str, str]]:
    """Every rule `schema` breaks, as `{location, message}`; empty when it is acceptable."""
    if not isinstance(schema, dict):
        return [{"location": "form_schema", "message": "must be a JSON object (a schema)"}]
    if _depth(schema) > MAX_DEPTH:
        return [{"location": "form_schema", "message": f"is nested deeper than {MAX_DEPTH}"}]
    if len(orjson.dumps(schema)) > MAX_BYTES:
        return [{"location": "form_schema", "message": f"is larger than {MAX_BYTES} bytes"}]
    dialect = schema.get("$schema", DIALECT)
    if not isinstance(dialect, str) or dialect.rstrip("#") != DIALECT:
        return [{"location": "form_schema/$schema", "message": f"must be {DIALECT}"}]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "".join(f"/{p}" for p in exc.path)
        return [
            {
                "location": f"form_schema{where}",
                "message": f"is not valid JSON Schema (draft 2020-12): {exc.message}",
            }
        ]
    problems: list[dict[str, str]] = []
    if schema.get("type") != "object":
        problems.append(
            {"location": "form_schema/type", "message": 'the root must be "type": "object"'}
        )
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


def _walk(node: Any, path: list[str], problems: list[dict[str, str]]) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, [*path, str(i)], problems)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = [*path, key]
        if key in ("$ref", "$dynamicRef") and isinstance(value, str) and not value.startswith("#"):
            problems.append(
                {"location": _pointer(here), "message": "must refer inside the schema (#...)"}
            )
        elif key == "properties" and isinstance(value, dict):
            for name, sub in value.items():
                _check_titles(sub, [*here, name], problems)
                _walk(sub, [*here, name], problems)
        elif key not in _DATA_KEYWORDS:
            _walk(value, here, problems)


def _check_titles(prop: Any, path: list[str], problems: list[dict[str, str]]) -> None:
    titles = prop.get("x-title") if isinstance(prop, dict) else None
    if not isinstance(titles, dict) or any(
        not isinstance(titles.get(lang), str) or not titles[lang].strip() for lang in LANGUAGES
    ):
        problems.append(
            {
                "location": _pointer([*path, "x-title"]),
                "message": "each property needs x-title with non-empty kk, ru and en titles",
            }
        )


def check_form_schema(schema: Any) -> None:
    """Raise `InvalidFormSchema` listing every problem, or return if the schema is acceptable."""
    problems = form_schema_problems(schema)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidFormSchema(f"{first['location']}: {first['message']}{more}", errors=problems)


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
