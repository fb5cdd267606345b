"""What a client could do to the cursors a list hands out, for the tests that check it cannot.

A cursor is ``base64url(json([kind, *sort key])) "." tag`` (portal_shared.paging). A client
can read and rewrite the first half; these helpers do what such a client would: read the
key, and put back an edited key under the tag that was issued for the original one.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

__all__ = ["INVALID_CURSOR", "INVALID_PRECONDITION", "PRECONDITION_FAILED", "forged", "payload"]

INVALID_CURSOR = "urn:baikonur-portal:problem:invalid-cursor"
INVALID_PRECONDITION = "urn:baikonur-portal:problem:invalid-precondition"
PRECONDITION_FAILED = "urn:baikonur-portal:problem:precondition-failed"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def payload(cursor: str) -> list[Any]:
    """The readable half of a cursor: its listing's kind, then the sort key."""
    body = cursor.split(".")[0]
    decoded: list[Any] = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def forged(cursor: str, *key: Any) -> str:
    """The cursor with its sort key replaced by `key`, still under the tag issued for it:
    valid base64 and valid JSON, of the right listing, only the key edited."""
    kind = payload(cursor)[0]
    return f"{_b64(orjson.dumps([kind, *key]))}.{cursor.split('.')[1]}"
