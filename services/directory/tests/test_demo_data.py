"""The demo agencies of `make run`: the codes other services rely on, valid, idempotent."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI

from directory.bin_number import bin_problem
from directory.demo import seed

RELIED_ON = [
    "BKR-JUSTICE",
    "BKR-CIVREG",
    "BKR-MIGRATION",
    "BKR-POLICE",
    "BKR-REVENUE",
    "BKR-LAND",
    "BKR-SOCIAL",
    "BKR-PSC",
    "BKR-EDUCATION",
    "BKR-ARCHITECTURE",
    "BKR-HEALTH",
]


async def test_demo_agencies_are_there_once_with_derived_ids(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    added = await seed(app.state.sessionmaker)
    assert await seed(app.state.sessionmaker) == 0, "a second seed adds nothing"
    page = (await client.get("/api/v1/agencies", params={"limit": 200})).json()
    assert len(page["items"]) == added
    by_code = {a["code"]: a for a in page["items"]}
    assert ZoneInfo("Asia/Qyzylorda").key == "Asia/Qyzylorda"
    for code in RELIED_ON:
        agency = by_code[code]
        assert agency["id"] == str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"urn:baikonur-portal:agency:{code}")
        )
        assert agency["city"] == "Baikonur"
        assert agency["timezone"] == "Asia/Qyzylorda"
        assert agency["status"] == "active"
        assert all(agency["name"][lang] for lang in ("kk", "ru", "en"))
    ids = {a["id"]: a for a in page["items"]}
    for agency in page["items"]:
        assert bin_problem(agency["bin"]) is None, agency["code"]
        if agency["code"] in RELIED_ON:
            parent = ids[agency["parent_id"]]
            top = parent
            while top["parent_id"] is not None:
                top = ids[top["parent_id"]]
            assert top["kind"] == "ministry"
            assert top["city"] == "Astana"
    assert len({a["bin"] for a in page["items"]}) == added, "every agency its own BIN"
    migration = (await client.get("/api/v1/agencies/by-code/BKR-MIGRATION")).json()
    assert ids[migration["parent_id"]]["code"] == "BKR-POLICE"
