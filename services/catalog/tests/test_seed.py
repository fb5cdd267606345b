"""`seed-demo`: the demo services appear published once their agencies are known, idempotently."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from catalog.demo import demo_services
from catalog.seed import AgenciesMissing, seed

AgencyMaker = Callable[..., Awaitable[dict[str, Any]]]
DEMO_SERVICES = demo_services()
DEMO_AGENCIES = sorted({s.agency_code for s in DEMO_SERVICES})


async def test_seed_publishes_the_demo_services_once(
    client: httpx.AsyncClient, app: FastAPI, make_agency: AgencyMaker
) -> None:
    for code in DEMO_AGENCIES:
        await make_agency(code)
    assert await seed(app.state.sessionmaker, wait_seconds=0) == len(DEMO_SERVICES)
    assert await seed(app.state.sessionmaker, wait_seconds=0) == 0
    page = (await client.get("/api/v1/services", params={"limit": "200"})).json()
    assert len(page["items"]) == len(DEMO_SERVICES) >= 12
    assert {s["status"] for s in page["items"]} == {"published"}
    residence_id = uuid.uuid5(
        uuid.NAMESPACE_URL, "urn:baikonur-portal:service:residence-registration"
    )
    residence = (await client.get(f"/api/v1/services/{residence_id}", params={"lang": "ru"})).json()
    assert residence["name"] == "Регистрация по месту жительства"
    assert residence["form_schema"]["properties"]["applicant_iin"]["pattern"] == "^[0-9]{12}$"
    marriage = next(s for s in page["items"] if s["code"] == "marriage-registration")
    assert marriage["fee"] == {"amount": 2162.5, "currency": "KZT"}


async def test_seed_waits_a_bounded_time_then_names_missing_agencies(
    client: httpx.AsyncClient, app: FastAPI, make_agency: AgencyMaker
) -> None:
    await make_agency("BKR-CIVREG")
    with pytest.raises(AgenciesMissing, match="BKR-MIGRATION"):
        await seed(app.state.sessionmaker, wait_seconds=0.2)
    codes = {s["code"] for s in (await client.get("/api/v1/services")).json()["items"]}
    assert codes == {s.body.code for s in DEMO_SERVICES if s.agency_code == "BKR-CIVREG"}
