"""No applicant's input breaks a request for anyone else: a form nested hundreds of levels
deep is refused at the edge (it was once stored, and then every list that held it answered
500), a form at the deepest level allowed is stored and read back by everyone who may read
it, and no answer carrying personal data may be cached."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.conftest import Parties, World

OPEN_FORM: dict[str, Any] = {"type": "object"}


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


async def test_a_hostile_deep_form_is_refused_and_every_list_still_works(
    client: httpx.AsyncClient, parties: Parties, world: World
) -> None:
    service_id = await world.service(parties.agency_id, form_schema=OPEN_FORM)
    mine = await parties.submit()
    raw = f'{{"service_id": "{service_id}", "form_data": {{"note": ' + "[" * 400 + "]" * 400 + "}}"
    refused = await client.post(
        "/api/v1/requests",
        content=raw,
        headers={**parties.other_resident(), "Content-Type": "application/json"},
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "json-too-deep"
    assert problem["errors"][0]["pointer"].startswith("/form_data/note/0/0")
    for reader in (parties.resident(), parties.officer(), parties.agency_system()):
        listed = await client.get("/api/v1/requests", headers=reader)
        assert listed.status_code == 200, listed.text
        assert [item["id"] for item in listed.json()["items"]] == [mine["id"]]
    theirs = await client.get("/api/v1/requests", headers=parties.other_resident())
    assert theirs.status_code == 200
    assert theirs.json()["items"] == []


async def test_the_deepest_form_allowed_is_read_back_by_everyone(
    client: httpx.AsyncClient, parties: Parties, world: World
) -> None:
    service_id = await world.service(parties.agency_id, form_schema=OPEN_FORM)
    # The body is level 1, form_data level 2, {"deep": ...} holds 30 more: 32 in all,
    # the default bound; numbers past a double's exact range are kept as sent.
    form = {"deep": nested(30), "big": 2**53 + 1, "huge": 10**300}
    raw = json.dumps({"service_id": str(service_id), "form_data": form})
    created = await client.post(
        "/api/v1/requests",
        content=raw,
        headers={**parties.resident(), "Content-Type": "application/json"},
    )
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    one = await client.get(f"/api/v1/requests/{request_id}", headers=parties.resident())
    assert one.status_code == 200, one.text
    assert json.loads(one.text)["form_data"] == form
    for reader in (parties.resident(), parties.officer(), parties.agency_system()):
        listed = await client.get("/api/v1/requests", headers=reader)
        assert listed.status_code == 200, listed.text
        [item] = json.loads(listed.text)["items"]
        assert item["form_data"] == form
    deeper = {"service_id": str(service_id), "form_data": {"deep": nested(31)}}
    refused = await client.post("/api/v1/requests", json=deeper, headers=parties.resident())
    assert refused.status_code == 422
    assert refused.json()["code"] == "json-too-deep"


async def test_answers_with_personal_data_are_not_cached(
    client: httpx.AsyncClient, parties: Parties
) -> None:
    created = await parties.submit()
    for path in ("/api/v1/requests", f"/api/v1/requests/{created['id']}"):
        response = await client.get(path, headers=parties.resident())
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
