"""Opaque keyset cursors for `?cursor=` lists: base64url JSON of the last row's sort key."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from portal_shared.errors import BadRequest


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("The cursor is not one this API returned") from exc
    if not isinstance(key, list) or len(key) != size or not all(isinstance(k, str) for k in key):
        raise BadRequest("The cursor is not one this API returned")
    return key
