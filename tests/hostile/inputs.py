"""Hostile input, put into every place an operation of the merged OpenAPI document takes it.

A `Case` is one call: an operation of the gateway's `/openapi.json`, one input place (the
body or a property of it, a query parameter, a path segment, a header) and one family of
hostile value there; every other input is a valid base value (a real id, the current
ETag, a body the operation would take). The families are the issue's: deep and wide JSON,
huge strings, numbers past 2^53 and past a double's range, NaN and Infinity literals,
extreme dates with offsets, NUL and control characters, forged cursors, and malformed or
stale preconditions.

The cases of an operation are the places crossed with the families that fit them, thinned
deterministically (`STRIDE`) where the cross product is large, so that each place still
meets several families and each family several places.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from portal_testing.cursors import forged, payload

# A body's value a raw JSON literal replaces after serialisation (NaN, 1e400...).
_SENTINEL = "\ue000hostile\ue000"
DEPTH = 500
WIDTH = 100_000
HUGE = 100_000  # characters of a huge string in a body (past every string bound)
HUGE_URL = 6_000  # in a query value, path segment or header (within the HTTP line bounds)
MIN_DATE = "0001-01-01T00:00:00+01:00"
MAX_DATE = "9999-12-31T23:59:59-14:00"
# Thinning of the body's cross product (places x families): a pair is kept when their
# indices add up to a multiple of STRIDE.
STRIDE = 2


def _key(i: int) -> str:
    """Short distinct keys, so that 100k of them stay under a service's byte bound and the
    key-count bound is the one met."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        i, r = divmod(i, 36)
        out = digits[r] + out
        if i == 0:
            return out


def deep(levels: int = DEPTH) -> Any:
    value: Any = "bottom"
    for n in range(levels):
        value = {"a": value} if n % 2 else [value]
    return value


WIDE = {_key(i): 0 for i in range(WIDTH)}


@dataclass(frozen=True)
class Raw:
    """A JSON literal Python would not write as such."""

    literal: str


# Families for a value inside a JSON body.
BODY_FAMILIES: dict[str, Any] = {
    "deep-json": deep(),
    "wide-json": WIDE,
    "huge-string": "x" * HUGE,
    "int-past-2^53": 2**53 + 1,
    "int-past-float": Raw("1" + "0" * 400),
    "float-past-range": Raw("1e400"),
    "nan": Raw("NaN"),
    "infinity": Raw("-Infinity"),
    "nul": "a\x00b",
    "control": "a\x01\x08\x1b[2J\x7f\u202e\ufeffb",
    "min-date": MIN_DATE,
    "max-date": MAX_DATE,
}
# Each family's value as JSON, written once (100k keys take a while to write).
_LITERALS = {
    family: value if isinstance(value, Raw) else Raw(json.dumps(value, ensure_ascii=False))
    for family, value in BODY_FAMILIES.items()
}
# Families for a query value, a path segment or a header (text).
TEXT_FAMILIES: dict[str, str] = {
    "huge-string": "x" * HUGE_URL,
    "int-past-2^53": str(2**53 + 1),
    "int-past-float": "1" + "0" * 400,
    "float-past-range": "1e400",
    "nan": "NaN",
    "infinity": "-Infinity",
    "nul": "a\x00b",
    "control": "a\x01\x1b[2J\x7f\u202eb",
    "min-date": MIN_DATE,
    "max-date": MAX_DATE,
    "boolean": "true",
    "traversal": "../../auth/jwks",
}
PRECONDITIONS: dict[str, str] = {
    "if-match-malformed": 'W/"1", garbage"',
    "if-match-unquoted": "1",
    "if-match-stale": '"999999"',
    "if-match-huge": '"' + "9" * HUGE_URL + '"',
    "if-match-nul": '"1\x00"',
}


def _edited(cursor: str, *key: Any) -> str:
    """A real cursor with its payload's sort key edited: under its old tag when it has one
    (portal_shared.paging), else (a list not on the shared codec yet) as it is encoded."""
    if "." in cursor:
        return forged(cursor, *key)
    kind = payload(cursor)[0]
    return base64.urlsafe_b64encode(orjson.dumps([kind, *key])).decode().rstrip("=")


def cursor_families(real: str | None) -> dict[str, str]:
    """Cursors a client could make of a real one, and ones that are no cursor at all."""
    families = {"cursor-garbage": "not.a-cursor", "cursor-huge": "a" * HUGE_URL + ".b"}
    if real is not None:
        families.update(
            {
                "cursor-forged": _edited(real, "2000-01-01T00:00:00+00:00", "0" * 32),
                "cursor-nul": _edited(real, "\x00", "\x00"),
                "cursor-boolean": _edited(real, True, False),
                "cursor-max-date": _edited(real, MAX_DATE, 2**53 + 1),
            }
        )
    return families


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    parameters: list[dict[str, Any]]
    body: dict[str, Any] | None  # the resolved JSON schema of the body, if any

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _resolve(document: dict[str, Any], schema: Any, depth: int = 0) -> Any:
    """The schema with local $refs replaced (bounded: the documents' schemas nest little)."""
    if depth > 12:
        return {}
    if isinstance(schema, dict):
        if "$ref" in schema:
            target: Any = document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolve(document, target, depth + 1)
        return {k: _resolve(document, v, depth + 1) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_resolve(document, v, depth + 1) for v in schema]
    return schema


def operations(document: dict[str, Any]) -> list[Operation]:
    """Every operation of the document, in its order."""
    found = []
    for path, item in document.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method, spec in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            parameters = _resolve(document, [*shared, *spec.get("parameters", [])])
            content = spec.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            found.append(
                Operation(
                    method.upper(),
                    path,
                    parameters,
                    _resolve(document, body) if body is not None else None,
                )
            )
    return found


@dataclass
class Case:
    """One call: where the hostile value goes, and which family it is."""

    operation: Operation
    place: str  # "body", "body/<property>", "query/<name>", "path/<name>", "header/<name>"
    family: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None

    @property
    def label(self) -> str:
        return f"{self.operation.label} {self.place} {self.family}"


def dumps(body: Any, raw: Raw | None = None) -> bytes:
    text = json.dumps(body, ensure_ascii=False)
    if raw is not None:
        text = text.replace(json.dumps(_SENTINEL, ensure_ascii=False), raw.literal)
    return text.encode()


def _with(body: Any, keys: tuple[str, ...], value: Any) -> Any:
    """A copy of `body` with `value` at `keys` (objects made on the way)."""
    if not keys:
        return value
    copy = dict(body) if isinstance(body, dict) else {}
    copy[keys[0]] = _with(copy.get(keys[0]), keys[1:], value)
    return copy


def body_places(schema: dict[str, Any], base: Any) -> list[tuple[str, ...]]:
    """The body itself, each of its properties, and a new key inside each object it holds
    (an open object stores it)."""
    places: list[tuple[str, ...]] = [()]
    properties = list(schema.get("properties", {}))
    places += [(p,) for p in properties]
    if isinstance(base, dict):
        places += [(p, "note") for p, v in base.items() if isinstance(v, dict)]
        places += [(p,) for p in base if p not in properties]
    return places


@dataclass
class Bases:
    """Valid values for every input a case does not attack."""

    path_values: dict[str, str]
    body_for: Callable[[Operation], Any]
    etag_for: Callable[[Operation, str], str | None]
    cursor_for: Callable[[Operation], str | None]


def _fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


def cases(operation: Operation, bases: Bases) -> Iterator[Case]:
    """Every hostile call of one operation, after its base call (no hostile input: whether
    the caller may use the operation at all)."""
    names = [p["name"] for p in operation.parameters if p.get("in") == "path"]
    values = {n: bases.path_values.get(n, "1") for n in names}
    path = _fill(operation.path, values)
    headers: dict[str, str] = {}
    etag_name = next(
        (p["name"] for p in operation.parameters if p["name"].lower() == "if-match"), None
    )
    if etag_name is not None:
        etag = bases.etag_for(operation, path)
        if etag is not None:
            headers[etag_name] = etag

    def case(place: str, family: str, **parts: Any) -> Case:
        parts.setdefault("path", path)
        parts["headers"] = {**headers, **parts.get("headers", {})}
        return Case(operation, place, family, **parts)

    base = bases.body_for(operation) if operation.body is not None else None
    content = dumps(base) if operation.body is not None else None
    yield case("base", "none", content=content)
    for parameter in operation.parameters:
        name, where = parameter["name"], parameter.get("in")
        if where == "path":
            for family, text in TEXT_FAMILIES.items():
                hostile = _fill(operation.path, {**values, name: text})
                yield case(f"path/{name}", family, path=hostile, content=content)
        elif where == "query":
            families = dict(TEXT_FAMILIES)
            if name == "cursor":
                families.update(cursor_families(bases.cursor_for(operation)))
            for family, text in families.items():
                yield case(f"query/{name}", family, query={name: text}, content=content)
        elif where == "header":
            families = PRECONDITIONS if name.lower() == "if-match" else TEXT_FAMILIES
            for family, text in families.items():
                yield case(f"header/{name}", family, headers={name: text}, content=content)
    if operation.body is None:
        return
    for i, keys in enumerate(body_places(operation.body, base)):
        for j, family in enumerate(BODY_FAMILIES):
            whole = not keys and family in ("deep-json", "wide-json", "huge-string", "nan")
            if not whole and (i + j) % STRIDE:
                continue
            raw = _LITERALS[family]
            fresh = bases.body_for(operation)  # unique codes, so a creation is not a 409
            body = _with(fresh, keys, _SENTINEL)
            place = "body/" + "/".join(keys) if keys else "body"
            # The current ETag, so that a value the service takes is stored, not a 412.
            current = {}
            if etag_name is not None and keys:
                etag = bases.etag_for(operation, path)
                current = {etag_name: etag} if etag is not None else {}
            yield case(place, family, content=dumps(body, raw), headers=current)


def example(schema: dict[str, Any]) -> Any:
    """A plain value of a schema: the body of an operation no base is known for."""
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            options = [s for s in schema[combined] if s.get("type") != "null"]
            return example(options[0]) if options else None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {k: example(properties.get(k, {})) for k in schema.get("required", [])}
    if kind == "array":
        return [example(schema.get("items", {}))] * schema.get("minItems", 0)
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    return {"date-time": "2026-01-15T10:00:00+05:00", "date": "2026-01-15"}.get(
        schema.get("format", ""), "Baikonur"
    )
