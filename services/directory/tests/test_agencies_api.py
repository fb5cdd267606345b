"""The agencies API as a client sees it: registration, validation, reading, search, paging."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from portal_testing.cursors import INVALID_CURSOR

Register = Callable[..., Awaitable[dict[str, Any]]]
AgencyBody = Callable[..., dict[str, Any]]
PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, mentions: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert mentions.lower() in (body["detail"] + str(body.get("errors", ""))).lower(), body
    return body


async def test_registered_agency_reads_back_by_id_and_code(
    client: httpx.AsyncClient, admin: dict[str, str], agency_body: AgencyBody
) -> None:
    created = await client.post("/api/v1/agencies", json=agency_body(), headers=admin)
    assert created.status_code == 201
    agency = created.json()
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/api/v1/agencies/{agency['id']}"
    assert agency["version"] == 1
    assert agency["status"] == "active"
    assert agency["contacts"]["phone"] == "+73362252000", "phones are stored in E.164"
    assert agency["working_hours"]["mon"]["breaks"] == [{"start": "13:00", "end": "14:30"}]
    assert agency["working_hours"]["sun"] is None

    by_id = await client.get(f"/api/v1/agencies/{agency['id']}")
    by_code = await client.get("/api/v1/agencies/by-code/BKR-TEST")
    assert by_id.json() == agency == by_code.json()
    assert by_id.headers["etag"] == '"1"'


async def test_timezone_defaults_to_almaty(
    client: httpx.AsyncClient, admin: dict[str, str], agency_body: AgencyBody
) -> None:
    body = agency_body()
    del body["timezone"]
    response = await client.post("/api/v1/agencies", json=body, headers=admin)
    assert response.json()["timezone"] == "Asia/Almaty"


WEEKDAY = {"open": "09:00", "close": "18:00"}


@pytest.mark.parametrize(
    ("change", "mentions"),
    [
        ({"bin": "140740190075"}, "check digit"),
        ({"bin": "14074019007"}, "12 digits"),
        ({"bin": "14074019007a"}, "12 digits"),
        ({"bin": "141340190074"}, "registration month"),
        ({"bin": "140770190074"}, "entity type"),
        ({"bin": "140748190074"}, "unit type"),
        ({"timezone": "Asia/Baikonur"}, "IANA"),
        ({"timezone": "asia/almaty"}, "IANA"),
        ({"code": "bkr test"}, "upper-case"),
        ({"code": "BKR--X"}, "upper-case"),
        ({"kind": "embassy"}, "kind"),
        ({"name": {"kk": "Әділет", "ru": "Юстиция"}}, "name.en"),
        ({"name": {"kk": " ", "ru": "Юстиция", "en": "Justice"}}, "name.kk"),
        ({"name": {"kk": "a\x00b", "ru": "Юстиция", "en": "Justice"}}, "control characters"),
        ({"city": ""}, "city"),
        ({"address": "x" * 501}, "address"),
        ({"working_hours": {"monday": WEEKDAY}}, "monday"),
        ({"working_hours": {"mon": {"open": "9:00", "close": "18:00"}}}, "open"),
        ({"working_hours": {"mon": {"open": "18:00", "close": "09:00"}}}, "close after it opens"),
        ({"working_hours": {"mon": {"open": "09:00", "close": "24:00"}}}, "close"),
        (
            {"working_hours": {"mon": {**WEEKDAY, "breaks": [{"start": "08:00", "end": "10:00"}]}}},
            "not inside the working day",
        ),
        (
            {"working_hours": {"mon": {**WEEKDAY, "breaks": [{"start": "14:00", "end": "13:00"}]}}},
            "end after it starts",
        ),
        (
            {
                "working_hours": {
                    "mon": {
                        **WEEKDAY,
                        "breaks": [
                            {"start": "12:00", "end": "13:30"},
                            {"start": "13:00", "end": "14:00"},
                        ],
                    }
                }
            },
            "overlaps",
        ),
        ({"contacts": {"phone": "8 (33622) 52000"}}, "international form"),
        ({"contacts": {"email": "justice-at-baikonur"}}, "email"),
        ({"contacts": {"website": "ftp://gov.kz"}}, "http(s)"),
        ({"contacts": {"fax": "+77172740000"}}, "fax"),
        ({"parent_id": "not-a-uuid"}, "parent_id"),
        ({"status": "inactive"}, "status"),
    ],
)
async def test_invalid_fields_are_refused_with_the_reason(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    agency_body: AgencyBody,
    change: dict[str, Any],
    mentions: str,
) -> None:
    response = await client.post("/api/v1/agencies", json=agency_body(**change), headers=admin)
    body = assert_problem(response, 422, mentions)
    assert body["errors"], "each violation is listed with its location"
    assert (await client.get("/api/v1/agencies")).json()["items"] == []


async def test_duplicate_code_is_a_conflict(
    client: httpx.AsyncClient, admin: dict[str, str], register: Register, agency_body: AgencyBody
) -> None:
    await register("BKR-TEST")
    again = await client.post("/api/v1/agencies", json=agency_body("BKR-TEST"), headers=admin)
    assert_problem(again, 409, "BKR-TEST")


async def test_unknown_parent_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], agency_body: AgencyBody
) -> None:
    body = agency_body(parent_id=str(uuid.uuid4()))
    assert_problem(await client.post("/api/v1/agencies", json=body, headers=admin), 422, "parent")


async def test_a_cycle_in_the_hierarchy_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], register: Register
) -> None:
    top = await register("KZ-MJ", kind="ministry")
    middle = await register("BKR-JUSTICE", parent_id=top["id"])
    bottom = await register("BKR-CIVREG", kind="division", parent_id=middle["id"])

    to_grandchild = await client.patch(
        f"/api/v1/agencies/{top['id']}",
        json={"parent_id": bottom["id"]},
        headers={**admin, "If-Match": '"1"'},
    )
    assert_problem(to_grandchild, 422, "cycle")
    to_itself = await client.patch(
        f"/api/v1/agencies/{top['id']}",
        json={"parent_id": top["id"]},
        headers={**admin, "If-Match": '"1"'},
    )
    assert_problem(to_itself, 422, "own parent")
    assert (await client.get(f"/api/v1/agencies/{top['id']}")).json()["parent_id"] is None


async def test_moving_an_agency_elsewhere_in_the_tree_shows_in_the_subtree(
    client: httpx.AsyncClient, admin: dict[str, str], register: Register
) -> None:
    justice = await register("KZ-MJ", kind="ministry")
    police = await register("KZ-MVD", kind="ministry")
    office = await register("BKR-MIGRATION", kind="division", parent_id=justice["id"])
    moved = await client.patch(
        f"/api/v1/agencies/{office['id']}",
        json={"parent_id": police["id"]},
        headers={**admin, "If-Match": '"1"'},
    )
    assert moved.status_code == 200
    tree = (await client.get(f"/api/v1/agencies/{police['id']}/subtree")).json()
    assert [c["code"] for c in tree["children"]] == ["BKR-MIGRATION"]
    assert (await client.get(f"/api/v1/agencies/{justice['id']}/subtree")).json()["children"] == []


async def test_subtree_nests_every_level(client: httpx.AsyncClient, register: Register) -> None:
    ministry = await register("KZ-MF", kind="ministry")
    committee = await register("KZ-MF-KGD", kind="committee", parent_id=ministry["id"])
    await register("BKR-REVENUE", parent_id=committee["id"])
    await register("KZ-MF-TREASURY", kind="committee", parent_id=ministry["id"])
    await register("KZ-MJ", kind="ministry")

    tree = (await client.get(f"/api/v1/agencies/{ministry['id']}/subtree")).json()

    def codes(node: dict[str, Any]) -> Any:
        return {node["code"]: [codes(c) for c in node["children"]]}

    assert codes(tree) == {"KZ-MF": [{"KZ-MF-KGD": [{"BKR-REVENUE": []}]}, {"KZ-MF-TREASURY": []}]}
    missing = await client.get(f"/api/v1/agencies/{uuid.uuid4()}/subtree")
    assert_problem(missing, 404, "no agency")


async def test_pages_cover_every_agency_once(client: httpx.AsyncClient, register: Register) -> None:
    codes = [f"BKR-{n:02d}" for n in range(7)]
    for code in reversed(codes):
        await register(code)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/agencies", params=params)).json()
        seen += [a["code"] for a in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == codes
    assert pages == 3


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "e30"},  # "{}": well-formed base64 JSON, but not our cursor
        {"limit": 0},
        {"limit": 201},
        {"status": "closed"},
        {"q": "a\x00"},
        {"updated_since": "yesterday"},
        {"parent_id": "x"},
    ],
)
async def test_bad_list_parameters_are_problems(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await client.get("/api/v1/agencies", params=params)
    assert response.headers["content-type"] == PROBLEM
    if "cursor" in params:
        assert (response.status_code, response.json()["type"]) == (400, INVALID_CURSOR)
    else:
        assert response.status_code == 422


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ӘДІЛЕТ", "BKR-JUSTICE"),  # Kazakh, in another case
        ("юстиции", "BKR-JUSTICE"),  # Russian
        ("justice", "BKR-JUSTICE"),  # English
        ("Королёв", "BKR-KOROLEV"),  # yo and ye are one letter to a searcher
        ("королев", "BKR-KOROLEV"),
        ("kgd", "KZ-MF-KGD"),  # the code
        ("100%", None),  # LIKE wildcards are literal
    ],
)
async def test_search_in_each_language(
    client: httpx.AsyncClient, register: Register, query: str, expected: str | None
) -> None:
    await register("BKR-JUSTICE")
    await register(
        "BKR-KOROLEV",
        name={
            "kk": "Королёв атындағы мұражай",
            "ru": "Музей имени Королёва",
            "en": "Korolev Museum",
        },
    )
    await register(
        "KZ-MF-KGD",
        kind="committee",
        name={"kk": "Мемлекеттік кірістер", "ru": "Государственные доходы", "en": "State Revenue"},
    )
    page = (await client.get("/api/v1/agencies", params={"q": query})).json()
    assert [a["code"] for a in page["items"]] == ([expected] if expected else [])


async def test_filters_narrow_the_list(
    client: httpx.AsyncClient, admin: dict[str, str], register: Register
) -> None:
    ministry = await register("KZ-MJ", kind="ministry", city="Astana")
    justice = await register("BKR-JUSTICE", parent_id=ministry["id"])
    await register("BKR-CIVREG", kind="division", parent_id=justice["id"])
    await client.post(
        f"/api/v1/agencies/{justice['id']}/deactivate", json={"cascade": True}, headers=admin
    )

    async def codes(**params: Any) -> list[str]:
        page = (await client.get("/api/v1/agencies", params=params)).json()
        return [a["code"] for a in page["items"]]

    assert await codes(city="Astana") == ["KZ-MJ"]
    assert await codes(kind="division") == ["BKR-CIVREG"]
    assert await codes(parent_id=ministry["id"]) == ["BKR-JUSTICE"]
    assert await codes(status="active") == ["KZ-MJ"]
    assert await codes(status="inactive", city="Baikonur") == ["BKR-CIVREG", "BKR-JUSTICE"]
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert await codes(updated_since=later) == []
    earlier = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert len(await codes(updated_since=earlier)) == 3


async def test_unknown_agency_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"/api/v1/agencies/{uuid.uuid4()}"), 404, "no agency")
    assert_problem(await client.get("/api/v1/agencies/by-code/NOPE"), 404, "NOPE")
    assert_problem(await client.get("/api/v1/agencies/by-code/a%00b"), 422, "code")
