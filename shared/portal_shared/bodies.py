"""The bounds every JSON request body keeps, checked at each service's edge before FastAPI.

A value a service stores must come back out: a form nested a few hundred levels deep was
once accepted and stored, then broke every read of it (orjson writes at most 254 levels),
answering 500 to the applicant and to the agency's officers. So, before any handler runs,
`InputEdge` (installed by `create_service_app`) reads a JSON body (or one with no
Content-Type, which FastAPI also parses as JSON) and refuses it when it breaks a bound:

- 413 `payload-too-large` past `json_max_bytes` (from Content-Length, or while reading);
- 422 `json-too-deep` past `json_max_depth` nested objects/arrays (the body itself is 1);
- 422 `json-too-large` for an object with more than `json_max_keys` keys, an array with
  more than `json_max_items` items, or a string (or key) longer than `json_max_string`
  characters;
- 422 `json-number-invalid` for NaN, Infinity or a number no double can hold (1e400),
  which Python's parser would otherwise take.

Each 422 names the place with a JSON Pointer. Bodies that are not JSON at all go on to
FastAPI unchanged, which answers them as it always has. The check is one orjson parse (C)
and one walk over the containers, linear in the body's size.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import orjson
from anyio import to_thread
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as ASGIMessage

from portal_shared.errors import PayloadTooLarge, ValidationFailed, problem_response
from portal_shared.i18n import Message, negotiate, translate

__all__ = ["BodyRefused", "InputEdge", "JsonLimits", "check_json"]

# Bodies up to this size are checked on the event loop; larger ones in a worker thread.
_INLINE_BYTES = 64 * 1024


@dataclass(frozen=True)
class JsonLimits:
    """Bounds on a JSON body; the defaults are ServiceSettings' defaults."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 32
    max_keys: int = 1000
    max_items: int = 10_000
    max_string: int = 64 * 1024


class BodyRefused(Exception):
    """A JSON body out of bounds: `code` is the problem's slug, `message` the bound it broke
    (worded in the caller's language when answered), `pointer` where it broke."""

    def __init__(self, status: int, code: str, message: Message, pointer: str = "") -> None:
        super().__init__(str(message))
        self.status = status
        self.code = code
        self.message = message
        self.pointer = pointer


class _NonFinite:
    """What the lenient parser puts where a body has NaN or Infinity, to be found by the walk."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _pointer(chain: tuple[Any, ...] | None) -> str:
    parts: list[str] = []
    while chain is not None:
        key, chain = chain
        parts.append(_escape(str(key)))
    return "".join("/" + p for p in reversed(parts))


def _too_large(key: str, limit: int, chain: tuple[Any, ...] | None) -> BodyRefused:
    return BodyRefused(422, "json-too-large", Message(key, {"limit": limit}), _pointer(chain))


def _too_deep(max_depth: int, pointer: str) -> BodyRefused:
    message = Message("validation.json-too-deep", {"limit": max_depth})
    return BodyRefused(422, "json-too-deep", message, pointer)


def _not_a_number(literal: str, chain: tuple[Any, ...] | None) -> BodyRefused:
    message = Message("validation.json-not-a-number", {"literal": literal})
    return BodyRefused(422, "json-number-invalid", message, _pointer(chain))


def _over_limit(max_bytes: int) -> BodyRefused:
    return BodyRefused(
        413, PayloadTooLarge.slug, Message("error.json-over-limit", {"limit": max_bytes})
    )


def _walk(value: Any, limits: JsonLimits) -> None:
    """Refuse the first bound `value` breaks. Iterative, one visit per node; the key chain
    (key, parent-chain) costs O(1) per container and becomes a pointer only on failure."""
    max_string, max_keys, max_items = limits.max_string, limits.max_keys, limits.max_items
    max_depth = limits.max_depth
    stack: list[tuple[Any, int, tuple[Any, ...] | None]] = [(value, 1, None)]
    if isinstance(value, str) and len(value) > max_string:
        raise _too_large("validation.json-long-string", max_string, None)
    while stack:
        item, depth, chain = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                raise _too_deep(max_depth, _pointer(chain))
            if len(item) > max_keys:
                raise _too_large("validation.json-many-keys", max_keys, chain)
            pairs: Any = item.items()
        elif isinstance(item, list):
            if depth > max_depth:
                raise _too_deep(max_depth, _pointer(chain))
            if len(item) > max_items:
                raise _too_large("validation.json-many-items", max_items, chain)
            pairs = enumerate(item)
        else:
            continue
        for key, child in pairs:
            if type(key) is str and len(key) > max_string:
                raise _too_large("validation.json-long-key", max_string, (key, chain))
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1, (key, chain)))
            elif kind is str:
                if len(child) > max_string:
                    raise _too_large("validation.json-long-string", max_string, (key, chain))
            elif kind is float:
                if not math.isfinite(child):
                    raise _not_a_number(repr(child), (key, chain))
            elif kind is _NonFinite:
                raise _not_a_number(child.literal, (key, chain))


def _deep_pointer(body: bytes, max_depth: int) -> str:
    """Where `body` first nests past `max_depth`: a plain scan of brackets, keys and
    indices, used only for bodies too deep for orjson to parse at all."""
    text = body.decode("utf-8", "replace")
    path: list[Any] = []  # per open container: its current key (object) or index (array)
    kinds: list[str] = []
    i, n = 0, len(text)
    last_string = ""
    while i < n:
        ch = text[i]
        if ch == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            last_string = text[i + 1 : end]
            i = end
        elif ch in "[{":
            if len(kinds) >= max_depth:
                return "".join("/" + _escape(str(p)) for p in path)
            kinds.append(ch)
            path.append(0 if ch == "[" else "")
        elif ch in "]}":
            if kinds:
                kinds.pop()
                path.pop()
        elif ch == ":" and kinds and kinds[-1] == "{":
            path[-1] = last_string
        elif ch == "," and kinds and kinds[-1] == "[":
            path[-1] += 1
        i += 1
    return ""


def _integer(literal: str) -> Any:
    # Past a double's range (orjson's own limit) an integer is refused like Infinity; it is
    # also past the 4300 digits Python's int() takes, which would otherwise be a 400.
    return int(literal) if len(literal) <= 308 else _NonFinite(literal[:16] + "...")


def _lenient(body: bytes) -> Any:
    """What Python's own parser (FastAPI's) makes of a body orjson refused, with NaN,
    Infinity and numbers past a double's range kept as markers; raises ValueError when it is
    not JSON even to Python."""
    return json.loads(body, parse_constant=_NonFinite, parse_int=_integer)


def check_json(body: bytes, limits: JsonLimits) -> None:
    """Refuse `body` (a JSON document) if it breaks `limits`; return if it keeps them or is
    not JSON at all (FastAPI then answers that as it always has)."""
    if len(body) > limits.max_bytes:
        raise _over_limit(limits.max_bytes)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
        if "depth limit" in reason or "recursion" in reason:
            raise _too_deep(limits.max_depth, _deep_pointer(body, limits.max_depth)) from None
        try:
            value = _lenient(body)
        except RecursionError:
            raise _too_deep(limits.max_depth, _deep_pointer(body, limits.max_depth)) from None
        except ValueError:
            return
    _walk(value, limits)


def _is_json(scope: Scope) -> bool:
    content_type = b""
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
            break
    if not content_type:
        return True  # FastAPI parses a body without a Content-Type as JSON
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _language(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"accept-language":
            return negotiate(value.decode("latin-1"))
    return negotiate(None)


def _refusal(refused: BodyRefused, path: str, language: str) -> Any:
    message = refused.message.in_language(language)
    if refused.status == 413:
        return problem_response(
            413,
            PayloadTooLarge.title_in(language),
            message,
            type_uri=PayloadTooLarge.type_uri(),
            instance=path,
            language=language,
            code=refused.code,
        )
    location = "body" + "".join("." + p for p in refused.pointer.split("/")[1:])
    return problem_response(
        422,
        ValidationFailed.title_in(language),
        translate(language, "error.validation-failed", {"summary": f"{location}: {message}"}),
        type_uri=f"urn:baikonur-portal:problem:{refused.code}",
        instance=path,
        language=language,
        code=refused.code,
        errors=[
            {
                "location": location,
                "pointer": refused.pointer,
                "code": refused.code,
                "message": message,
            }
        ],
    )


class InputEdge:
    """Pure ASGI middleware: the JSON-body checks above, before routing. (Path and query
    parameters are typed in each route: a UUID, a pattern, or portal_shared.text's
    SINGLE_LINE, so a NUL there is a 422 naming the parameter.)"""

    def __init__(self, app: ASGIApp, limits: JsonLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if scope["method"] in ("GET", "HEAD", "OPTIONS") or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        limits = self.limits
        declared = _declared_length(scope)
        try:
            if declared is not None and declared > limits.max_bytes:
                raise _over_limit(limits.max_bytes)
            body, more = await _read(receive, limits.max_bytes)
            if body:
                if len(body) <= _INLINE_BYTES:
                    check_json(body, limits)
                else:
                    await to_thread.run_sync(check_json, body, limits)
        except BodyRefused as refused:
            await _refusal(refused, path, _language(scope))(scope, receive, send)
            return
        await self.app(scope, _replay(body, more, receive), send)


async def _read(receive: Receive, max_bytes: int) -> tuple[bytes, bool]:
    """The whole body, refused as soon as it passes `max_bytes`; `more` is False when the
    client disconnected before the end."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise _over_limit(max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> ASGIMessage:
        nonlocal sent
        if not sent and complete:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
