"""Text and JSON a service can store and read back: one set of pydantic types for every schema.

PostgreSQL stores no NUL character in text or JSONB, and a lone UTF-16 surrogate (which
a JSON "\\ud800" escape yields) cannot even be encoded as UTF-8; Python's JSON parser takes
NaN and Infinity, which JSON does not have, and integers wider than 64 bits, which the
event serialiser (orjson) refuses. Each such value is refused here, at validation, as a 422
that names the field, rather than failing later in the database or on the way back out.

- `StorableText`: any text that can be stored (newlines and tabs allowed).
- `SingleLine`: a name, an address, a search term: no control characters at all.

With length limits or stripping, put the constraints first and the check after them, so
text is stripped before it is checked and length errors read as they always have:
`Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), SINGLE_LINE]`.
- `StorableJSON`: an open JSON object (a form's data): every key and string storable,
  every number finite; integers of any size are kept exactly (PostgreSQL's numeric holds
  them, and the edge refuses any past a double's range: portal_shared.bodies).
- `PublishableJSON`: the same, for a value that also travels in events (a form's schema):
  integers within 64 bits, as orjson, which writes the events, refuses wider ones.
- `UtcDatetime`: a date-time query parameter, normalised to UTC, refused when the UTC
  instant falls outside what Python (and PostgreSQL) can represent.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "CONTROL_CHARACTERS",
    "NON_FINITE",
    "NUL",
    "SINGLE_LINE",
    "STORABLE",
    "SURROGATES",
    "WIDE_INTEGER",
    "PublishableJSON",
    "SingleLine",
    "StorableJSON",
    "StorableText",
    "UtcDatetime",
    "publishable_json",
    "single_line",
    "storable_json",
    "storable_text",
]

NUL = "text must not contain the NUL character (\\u0000)"
SURROGATES = "text must not contain unpaired UTF-16 surrogates"
CONTROL_CHARACTERS = "must not contain control characters"
NON_FINITE = "numbers must be finite: JSON has no NaN or Infinity"
WIDE_INTEGER = "integers must fit in 64 bits"
OUT_OF_RANGE = "the date-time, converted to UTC, is outside the years 1 to 9999"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Both signed and unsigned 64-bit integers serialise; wider ones do not.
_INT_MIN = -(2**63)
_INT_END = 2**64


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return NUL
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATES
    return None


def _refuse(message: str, pointer: str = "") -> PydanticCustomError:
    where = f" (at {pointer})" if pointer else ""
    return PydanticCustomError(
        "unstorable", "{message}{where}", {"message": message, "where": where}
    )


def storable_text(value: str) -> str:
    """The text itself, or a validation error naming what PostgreSQL cannot store."""
    problem = _text_problem(value)
    if problem:
        raise _refuse(problem)
    return value


def single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError("control_characters", CONTROL_CHARACTERS)
    return storable_text(value)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _pointer(chain: tuple[Any, ...] | None) -> str:
    parts: list[str] = []
    while chain is not None:
        key, chain = chain
        parts.append(_escape(str(key)))
    return "".join("/" + p for p in reversed(parts))


def _scalar_problem(item: Any, int64: bool) -> str | None:
    kind = type(item)
    if kind is str:
        return _text_problem(item)
    if kind is float:
        return None if math.isfinite(item) else NON_FINITE
    if kind is int and int64:
        return None if _INT_MIN <= item < _INT_END else WIDE_INTEGER
    return None


def storable_json(value: Any, *, int64: bool = False) -> Any:
    """The value itself, or a validation error naming the first key, string or number that
    cannot be stored and read back (with `int64`, also an integer wider than 64 bits), with
    its JSON Pointer inside the value. Iterative, so no nesting depth makes it fail; linear
    in the size of the value."""
    # Each entry: a container and the chain of keys leading to it, as (key, parent) pairs.
    stack: list[tuple[Any, tuple[Any, ...] | None]] = [(value, None)]
    problem = _scalar_problem(value, int64)
    if problem:
        raise _refuse(problem)
    while stack:
        item, chain = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                problem = _text_problem(key) if isinstance(key, str) else None
                if problem is None:
                    problem = _scalar_problem(child, int64)
                if problem:
                    raise _refuse(problem, _pointer((key, chain)))
                if isinstance(child, (dict, list)):
                    stack.append((child, (key, chain)))
        elif isinstance(item, list):
            for index, child in enumerate(item):
                problem = _scalar_problem(child, int64)
                if problem:
                    raise _refuse(problem, _pointer((index, chain)))
                if isinstance(child, (dict, list)):
                    stack.append((child, (index, chain)))
    return value


def _utc(value: datetime) -> datetime:
    # A date-time without an offset is read as UTC, as the API has always done.
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        raise PydanticCustomError("datetime_out_of_range", OUT_OF_RANGE) from None


STORABLE = AfterValidator(storable_text)
SINGLE_LINE = AfterValidator(single_line)
StorableText = Annotated[str, STORABLE]
SingleLine = Annotated[str, SINGLE_LINE]


def publishable_json(value: Any) -> Any:
    return storable_json(value, int64=True)


StorableJSON = Annotated[dict[str, Any], AfterValidator(storable_json)]
PublishableJSON = Annotated[dict[str, Any], AfterValidator(publishable_json)]
UtcDatetime = Annotated[
    datetime,
    AfterValidator(_utc),
    Field(examples=["2026-12-01T09:00:00+05:00"]),
]
