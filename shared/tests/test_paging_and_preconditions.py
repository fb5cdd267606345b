"""The one cursor codec and the one RFC 9110 precondition reading every service uses."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import orjson
import pytest

from portal_shared.errors import PreconditionFailed, PreconditionRequired
from portal_shared.paging import CursorCodec, InvalidCursor
from portal_shared.preconditions import (
    ANY,
    EntityTag,
    InvalidPrecondition,
    check_if_match,
    if_none_match_hits,
    parse_etags,
)

CODEC = CursorCodec("a-test-cursor-secret-of-some-length")
TYPES = [bool, date, datetime, UUID, int, str]


def _sample() -> list[object]:
    return [True, date(2026, 12, 1), datetime(2026, 12, 1, 9, 30, tzinfo=UTC), uuid4(), 7, "a"]


def test_a_cursor_round_trips_its_typed_sort_key() -> None:
    values = _sample()
    assert CODEC.decode("things:-created", CODEC.encode("things:-created", values), TYPES) == values


def test_a_cursor_of_another_listing_or_secret_is_refused() -> None:
    cursor = CODEC.encode("things:-created", _sample())
    with pytest.raises(InvalidCursor):
        CODEC.decode("things:created", cursor, TYPES)
    with pytest.raises(InvalidCursor):
        CursorCodec("another-secret-of-sufficient-size").decode("things:-created", cursor, TYPES)


def _forge(payload: list[object], tag_from: str) -> str:
    body = base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")
    return f"{body}.{tag_from.split('.')[1]}"


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not-a-cursor",
        "a.b.c",
        "%%%.%%%",
        "x" * 600,
        "\x00.\x00",
        # a real cursor's body with its sort key moved forward, and the old tag
        _forge(["things:-created", False, "2030-01-01", "2030-01-01T00:00:00+00:00"], "x.AAAA"),
    ],
)
def test_forged_or_malformed_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        CODEC.decode("things:-created", cursor, TYPES)


def test_an_edited_key_fails_the_tag_even_with_the_issued_tag() -> None:
    issued = CODEC.encode("n", [5])
    with pytest.raises(InvalidCursor):
        CODEC.decode("n", _forge(["n", 500], issued), [int])


def test_a_signed_key_of_the_wrong_type_is_refused() -> None:
    # A boolean where an integer belongs (bool is an int in Python), a NUL where a date is.
    with pytest.raises(InvalidCursor):
        CODEC.decode("n", CODEC.encode("n", [True]), [int])
    with pytest.raises(InvalidCursor):
        CODEC.decode("d", CODEC.encode("d", ["2026-01-01\x00"]), [date])


def test_etag_lists_star_and_weak_tags_parse() -> None:
    assert parse_etags("*") == ANY
    assert parse_etags(' "1", W/"2" ,"x"') == [
        EntityTag("1"),
        EntityTag("2", weak=True),
        EntityTag("x"),
    ]


@pytest.mark.parametrize("header", ["3", '"3', '"3" "4"', "W/3", ",", "\x00"])
def test_malformed_preconditions_are_400(header: str) -> None:
    with pytest.raises(InvalidPrecondition):
        check_if_match(header, 3, required=True)


def test_if_match_uses_the_strong_comparison() -> None:
    check_if_match('"3"', 3, required=True)
    check_if_match('"1", "3"', 3, required=True)
    check_if_match("*", 3, required=True)
    with pytest.raises(PreconditionFailed):
        check_if_match('W/"3"', 3, required=True)
    with pytest.raises(PreconditionFailed):
        check_if_match('"2"', 3, required=True)


def test_a_required_precondition_is_428_and_the_body_version_counts() -> None:
    with pytest.raises(PreconditionRequired):
        check_if_match(None, 3, required=True)
    check_if_match(None, 3, required=False)
    check_if_match(None, 3, required=True, body_version=3)
    with pytest.raises(PreconditionFailed):
        check_if_match(None, 3, required=True, body_version=2)
    with pytest.raises(InvalidPrecondition):
        check_if_match('"2"', 3, required=True, body_version=3)


def test_if_none_match_uses_the_weak_comparison() -> None:
    assert if_none_match_hits('W/"3"', 3)
    assert if_none_match_hits('"3"', 3)
    assert if_none_match_hits("*", 3)
    assert not if_none_match_hits('"2"', 3)
    assert not if_none_match_hits("garbage", 3)
    assert not if_none_match_hits(None, 3)
