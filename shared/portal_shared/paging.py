"""Keyset cursors for every `?cursor=` list: opaque to clients, tamper-evident, one codec.

A cursor carries the last row's sort key, bound to the listing that issued it
(`kind`, e.g. ``"requests:-submitted_at"``), and an HMAC-SHA256 tag over both
under the deployment's `CURSOR_SECRET`. A client can pass back only what this
API handed out: an edited key (to skip past the sort key, or to smuggle a NUL
or a boolean where a date belongs) or a cursor of another list or order fails
the tag check and is refused with one problem, 400 `invalid-cursor`, in every
service. The key's values are still checked against their declared types after
the tag, so a cursor issued before a change of sort key is refused too.

Form: ``base64url(json([kind, *values])) "." base64url(tag[:16])``; 16 bytes of
tag (128 bits) are far past any forgery budget over HTTP.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Protocol, TypeVar
from uuid import UUID

import orjson
import sqlalchemy as sa
from fastapi import Depends, Query, Request

from portal_shared.errors import BadRequest

__all__ = [
    "CURSOR_MAX_LENGTH",
    "CursorCodec",
    "CursorParam",
    "CursorsDep",
    "InvalidCursor",
    "NewestFirst",
]

# A cursor is a short key: anything longer is not one of ours, and is refused unread.
CURSOR_MAX_LENGTH: Final = 512
_TAG_BYTES: Final = 16


class InvalidCursor(BadRequest):
    slug = "invalid-cursor"
    title = "Invalid cursor"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def _from_json(value: Any, kind: type[Any]) -> Any:
    """The value as `kind`, or ValueError; bool is never taken for int, nor int for bool."""
    if kind is bool or kind is int or kind is str:
        if type(value) is not kind:
            raise ValueError(f"expected {kind.__name__}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected {kind.__name__} as text")
    if kind is datetime:
        return _aware(datetime.fromisoformat(value))
    if kind is date:
        return date.fromisoformat(value)
    if kind is UUID:
        return UUID(value)
    raise TypeError(f"no cursor field of type {kind!r}")


class CursorCodec:
    """Encodes and checks the cursors of one service, under its secret."""

    def __init__(self, secret: str | bytes) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < 16:
            raise ValueError("the cursor secret must be at least 16 bytes")
        self._key = key

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_TAG_BYTES]

    def encode(self, kind: str, values: Sequence[Any]) -> str:
        """The cursor that resumes listing `kind` after the row whose sort key is `values`."""
        payload = orjson.dumps([kind, *(_to_json(v) for v in values)])
        return f"{_b64(payload)}.{_b64(self._tag(payload))}"

    def decode(self, kind: str, cursor: str, types: Sequence[type[Any]]) -> list[Any]:
        """The sort key a cursor of listing `kind` holds, typed as `types`; else InvalidCursor."""
        refused = InvalidCursor(message_key="error.invalid-cursor")
        if len(cursor) > CURSOR_MAX_LENGTH or cursor.count(".") != 1:
            raise refused
        body, tag = cursor.split(".")
        try:
            payload, given = _unb64(body), _unb64(tag)
        except (binascii.Error, ValueError) as exc:
            raise refused from exc
        if not hmac.compare_digest(given, self._tag(payload)):
            raise refused
        try:
            decoded = orjson.loads(payload)
            if (
                not isinstance(decoded, list)
                or len(decoded) != len(types) + 1
                or decoded[0] != kind
            ):
                raise ValueError("another listing")
            return [_from_json(v, t) for v, t in zip(decoded[1:], types, strict=True)]
        except (ValueError, TypeError) as exc:
            raise refused from exc


class _Dated(Protocol):
    @property
    def created_at(self) -> datetime: ...
    @property
    def id(self) -> UUID: ...


Item = TypeVar("Item", bound=_Dated)


class NewestFirst:
    """A list newest first, keyset-paged on (created_at, id) under `kind`: the query past
    the cursor with one row more than a page, then the page and the next page's cursor."""

    def __init__(self, cursors: CursorCodec, kind: str, created_at: Any, row_id: Any) -> None:
        self.cursors, self.kind = cursors, kind
        self.created_at, self.row_id = created_at, row_id

    def query(self, query: Any, cursor: str | None, limit: int) -> Any:
        if cursor is not None:
            after_at, after_id = self.cursors.decode(self.kind, cursor, (datetime, UUID))
            key = sa.tuple_(self.created_at, self.row_id)
            query = query.where(key < sa.tuple_(after_at, after_id))
        # The extra row only says that more follow.
        order = (self.created_at.desc(), self.row_id.desc())
        return query.order_by(*order).limit(limit + 1)

    def page(self, items: Sequence[Item], limit: int) -> tuple[list[Item], str | None]:
        shown = list(items[:limit])
        if len(items) <= limit:
            return shown, None
        last = shown[-1]
        return shown, self.cursors.encode(self.kind, (last.created_at, last.id))


def _codec(request: Request) -> CursorCodec:
    codec: CursorCodec = request.app.state.cursors
    return codec


# The codec `create_service_app` made from the service's CURSOR_SECRET.
CursorsDep = Annotated[CursorCodec, Depends(_codec)]
# The `cursor` query parameter of every list. Its length is checked by the codec, not here,
# so an overlong cursor is the same 400 invalid-cursor as any other that is not ours.
CursorParam = Annotated[
    str | None,
    Query(description="The `next_cursor` of the previous page, passed back unchanged"),
]
