"""Conditional requests (RFC 9110 section 13), one reading for every service.

Every versioned resource sends its version as a strong entity tag (`ETag: "3"`).
A write names the version it was based on in `If-Match`; a read may send
`If-None-Match` to get 304 when nothing changed. The rules, as RFC 9110 has them:

- `If-Match` uses the strong comparison: a weak tag (`W/"3"`) never matches;
  `*` matches any current representation; a list matches if any member does.
- `If-None-Match` uses the weak comparison: `W/"3"` and `"3"` both match "3".
- A malformed header is 400 `invalid-precondition` (it cannot be evaluated);
  a tag that does not match is 412 `precondition-failed`; a write that requires
  a precondition and has none is 428 `precondition-required`.

Some writes also accept the version in their JSON body (`"version": 3`), which
is read exactly as `If-Match: "3"`; when both are sent they must agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from portal_shared.errors import BadRequest, PreconditionFailed, PreconditionRequired

__all__ = [
    "ANY",
    "EntityTag",
    "InvalidPrecondition",
    "check_if_match",
    "etag",
    "if_none_match_hits",
    "parse_etags",
]

ANY: Final = "*"
# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text (RFC 9110 8.8.3)
_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*')
# Far more than any client sends; a longer header is refused before it is parsed.
_MAX_HEADER: Final = 1024


class InvalidPrecondition(BadRequest):
    slug = "invalid-precondition"
    title = "Invalid precondition"


@dataclass(frozen=True)
class EntityTag:
    opaque: str
    weak: bool = False


def etag(version: int | str) -> str:
    """The strong entity tag of a version, as sent in `ETag`."""
    return f'"{version}"'


def parse_etags(header: str) -> list[EntityTag] | Literal["*"]:
    """`*`, or the comma-separated entity tags of an If-Match / If-None-Match header."""
    value = header.strip()
    if value == ANY:
        return ANY
    if len(value) > _MAX_HEADER:
        raise InvalidPrecondition(message_key="error.precondition-too-long")
    tags: list[EntityTag] = []
    position = 0
    while position < len(value):
        found = _TAG.match(value, position)
        if found is None:
            raise InvalidPrecondition(
                message_key="error.precondition-not-etag", params={"header": repr(header)}
            )
        tags.append(EntityTag(found.group(2), weak=found.group(1) is not None))
        position = found.end()
        if position < len(value):
            if value[position] != ",":
                raise InvalidPrecondition(message_key="error.precondition-no-commas")
            position += 1
    if not tags:
        raise InvalidPrecondition(message_key="error.precondition-empty")
    return tags


def check_if_match(
    if_match: str | None,
    current: int | str,
    *,
    required: bool,
    body_version: int | None = None,
) -> None:
    """Refuse a write whose precondition does not hold for the `current` version."""
    if body_version is not None:
        stated = etag(body_version)
        if if_match is not None and parse_etags(if_match) not in (
            ANY,
            [EntityTag(str(body_version))],
        ):
            raise InvalidPrecondition(
                message_key="error.precondition-disagrees",
                params={"version": body_version, "if_match": repr(if_match)},
            )
        if_match = stated
    if if_match is None:
        if required:
            raise PreconditionRequired(message_key="error.precondition-required")
        return
    tags = parse_etags(if_match)
    if tags == ANY:
        return
    if not any(not tag.weak and tag.opaque == str(current) for tag in tags):
        raise PreconditionFailed(
            message_key="error.precondition-failed",
            params={"current": etag(current), "given": if_match.strip()},
            current_version=current,
        )


def if_none_match_hits(if_none_match: str | None, current: int | str) -> bool:
    """Whether `If-None-Match` names the current version (weakly): a read then answers 304.

    A malformed header is ignored here, as a cache would: the client gets the full answer.
    """
    if if_none_match is None:
        return False
    try:
        tags = parse_etags(if_none_match)
    except InvalidPrecondition:
        return False
    return tags == ANY or any(tag.opaque == str(current) for tag in tags)
