"""Every JSON body a service takes is bounded, so whatever is stored can be read back: too
deep, too wide, too long or not a number JSON has is a 422 naming the place, too big a 413,
never a 500; answers to authenticated requests are not cached unless a handler says so."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import httpx
import orjson
import pytest
from fastapi import APIRouter, FastAPI, Query, Response
from pydantic import BaseModel

from portal_shared.app import ServiceSpec, create_service_app
from portal_shared.settings import ServiceSettings
from portal_shared.text import UtcDatetime
from portal_testing.service import client_for


class Echo(BaseModel):
    value: Any


def _app() -> FastAPI:
    router = APIRouter()

    @router.post("/echo")
    async def echo(body: Echo) -> Response:
        # As services answer a stored value: serialised by orjson, which has its own depth
        # limit; a body the edge took must come back out.
        return Response(
            orjson.dumps({"items": [{"value": body.value}]}), media_type="application/json"
        )

    @router.post("/form")
    async def form() -> dict[str, str]:
        return {"ok": "yes"}

    @router.get("/since")
    async def since(at: Annotated[UtcDatetime, Query()]) -> dict[str, datetime]:
        return {"at": at}

    @router.get("/public")
    async def public(response: Response) -> dict[str, str]:
        response.headers["Cache-Control"] = "public, max-age=60"
        return {"ok": "yes"}

    @router.get("/mine")
    async def mine() -> dict[str, str]:
        return {"ok": "yes"}

    return create_service_app(
        ServiceSpec(
            name="edge-test",
            title="Edge test",
            description="",
            settings=ServiceSettings(),
            routers=[router],
        )
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(_app()) as client:
        yield client


def nested(depth: int) -> Any:
    """`depth` objects and arrays, alternating, around a string."""
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


async def post(client: httpx.AsyncClient, raw: bytes | str, **headers: str) -> httpx.Response:
    return await client.post(
        "/echo", content=raw, headers={"Content-Type": "application/json", **headers}
    )


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


async def test_the_deepest_body_allowed_comes_back_out(client: httpx.AsyncClient) -> None:
    # The body is level 1 and {"value": ...} holds 31 more: the default bound is 32.
    value = nested(31)
    response = await post(client, json.dumps({"value": value}))
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [{"value": value}]}


async def test_one_level_deeper_is_refused_with_a_pointer(client: httpx.AsyncClient) -> None:
    response = await post(client, json.dumps({"value": nested(32)}))
    body = problem(response, 422, "json-too-deep")
    assert body["type"] == "urn:baikonur-portal:problem:json-too-deep"
    [error] = body["errors"]
    # The 33rd level is the innermost container: it sits under "value" and 31 more steps.
    assert error["pointer"] == "/value" + "/0/k" * 15 + "/0"
    assert error["pointer"].count("/") == 32
    assert "nested deeper than 32" in body["detail"]


@pytest.mark.parametrize("depth", [300, 1100, 100_000])
async def test_hostile_depths_are_refused_not_a_crash(
    client: httpx.AsyncClient, depth: int
) -> None:
    # 300 once broke every read of what was stored; past 1024 orjson cannot even parse it;
    # 100,000 is past Python's own recursion limit.
    raw = '{"value": ' + "[" * depth + "]" * depth + "}"
    body = problem(await post(client, raw), 422, "json-too-deep")
    assert body["errors"][0]["pointer"] == "/value" + "/0" * 31


async def test_wide_objects_and_arrays_are_refused(client: httpx.AsyncClient) -> None:
    keys = {f"k{i}": i for i in range(1001)}
    body = problem(await post(client, json.dumps({"value": {"a": keys}})), 422, "json-too-large")
    assert body["errors"][0]["pointer"] == "/value/a"
    assert "at most 1000 keys" in body["detail"]
    items = list(range(10_001))
    body = problem(await post(client, json.dumps({"value": [1, items]})), 422, "json-too-large")
    assert body["errors"][0]["pointer"] == "/value/1"
    just_wide_enough = {"value": [{f"k{i}": i for i in range(1000)}, list(range(10_000))]}
    assert (await post(client, json.dumps(just_wide_enough))).status_code == 200


async def test_huge_strings_and_keys_are_refused(client: httpx.AsyncClient) -> None:
    long = "я" * (64 * 1024 + 1)
    body = problem(await post(client, json.dumps({"value": {"a/b": long}})), 422, "json-too-large")
    assert body["errors"][0]["pointer"] == "/value/a~1b"
    body = problem(await post(client, json.dumps({"value": {long: 1}})), 422, "json-too-large")
    assert "a key may be at most 65536 characters" in body["detail"]
    fits = {"value": "я" * 64 * 1024}
    assert (await post(client, json.dumps(fits))).json() == {"items": [fits]}


async def test_a_body_past_the_size_limit_is_413(client: httpx.AsyncClient) -> None:
    raw = json.dumps({"value": ["x" * 60_000] * 20})
    problem(await post(client, raw), 413, "payload-too-large")

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: refused while it is read.
        yield b'{"value": ['
        for _ in range(40):
            yield b'"' + b"x" * 30_000 + b'",'
        yield b"1]}"

    response = await client.post(
        "/echo", content=chunks(), headers={"Content-Type": "application/json"}
    )
    problem(response, 413, "payload-too-large")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 400])
async def test_numbers_json_has_not_are_refused(client: httpx.AsyncClient, literal: str) -> None:
    # Python's parser, which FastAPI uses, takes all of these: NaN and Infinity as floats,
    # 1e400 as infinity, and 400 digits as an integer no double holds.
    body = problem(await post(client, f'{{"value": [1, {literal}]}}'), 422, "json-number-invalid")
    assert body["errors"][0]["pointer"] == "/value/1"
    assert "NaN or Infinity" in body["detail"]


async def test_large_integers_a_double_holds_are_kept_exactly(client: httpx.AsyncClient) -> None:
    # Past 2**53 a double loses digits; the body is parsed by Python, which keeps them, and
    # orjson writes integers up to 64 bits exactly.
    for number in (2**53 + 1, -(2**63), 2**64 - 1):
        response = await post(client, f'{{"value": {number}}}')
        assert response.status_code == 200, response.text
        assert f'"value":{number}' in response.text


async def test_bodies_that_are_not_json_get_the_answer_they_always_did(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, "{not json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"].startswith("body")
    form = await client.post("/form", data={"a": "[" * 5000})
    assert form.status_code == 200


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00"])
async def test_date_times_past_the_calendar_in_utc_are_422(
    client: httpx.AsyncClient, at: str
) -> None:
    response = await client.get("/since", params={"at": at})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["location"] == "query.at"
    assert "outside the years 1 to 9999" in error["message"]


async def test_date_times_are_read_in_utc(client: httpx.AsyncClient) -> None:
    shifted = await client.get("/since", params={"at": "2026-12-01T05:00:00+05:00"})
    assert shifted.json() == {"at": "2026-12-01T00:00:00Z"}
    # Without an offset, UTC, as before.
    bare = await client.get("/since", params={"at": "2026-12-01T00:00:00"})
    assert bare.json() == {"at": "2026-12-01T00:00:00Z"}


async def test_answers_to_authenticated_requests_are_not_stored(
    client: httpx.AsyncClient,
) -> None:
    token = {"Authorization": "Bearer anything"}
    assert (await client.get("/mine", headers=token)).headers["cache-control"] == "no-store"
    # Refusals too: they may echo what was sent.
    refused = await post(client, json.dumps({"value": nested(40)}), **token)
    assert refused.headers["cache-control"] == "no-store"
    # A handler's own choice stands, and anonymous answers are left alone.
    public = await client.get("/public", headers=token)
    assert public.headers["cache-control"] == "public, max-age=60"
    assert "cache-control" not in (await client.get("/mine")).headers
