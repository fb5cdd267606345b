"""The catalog's HTTP API as administrators and the public use it."""

# Kazakh and Russian texts are Cyrillic on purpose, look-alike letters included.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from portal_testing.service import TestIssuer

SERVICES = "/api/v1/services"
AgencyMaker = Callable[..., Awaitable[dict[str, Any]]]
BodyMaker = Callable[..., dict[str, Any]]


async def create(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(SERVICES, json=body, headers=admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_published(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]
) -> str:
    created = await create(client, admin, body)
    published = await client.post(f"{SERVICES}/{created['id']}/publish", headers=admin)
    assert published.status_code == 200, published.text
    return str(created["id"])


def assert_problem(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, detail


# --- validation ------------------------------------------------------------------------------


async def test_a_form_schema_that_is_not_json_schema_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    body = make_body("birth-registration", agency["id"])
    body["form_schema"]["properties"]["mother_iin"]["type"] = "strnig"
    response = await client.post(SERVICES, json=body, headers=admin)
    assert_problem(response, 422, "not valid JSON Schema", "mother_iin")


async def test_a_form_schema_that_is_not_an_object_schema_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    body = make_body("birth-registration", agency["id"], form_schema={"type": "array"})
    assert_problem(await client.post(SERVICES, json=body, headers=admin), 422, '"type": "object"')


async def test_form_fields_need_titles_in_three_languages(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    body = make_body("birth-registration", agency["id"])
    del body["form_schema"]["properties"]["child_birth_date"]["x-title"]["kk"]
    response = await client.post(SERVICES, json=body, headers=admin)
    assert_problem(response, 422, "child_birth_date/x-title")


async def test_unknown_agency_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], make_body: BodyMaker
) -> None:
    body = make_body("birth-registration", "6f1c1f40-9d2b-4e0e-8a53-0d2f9b3c1a11")
    assert_problem(await client.post(SERVICES, json=body, headers=admin), 422, "No agency")


async def test_inactive_agency_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency("BKR-LAND", status="inactive")
    body = make_body("land-plot", agency["id"])
    assert_problem(await client.post(SERVICES, json=body, headers=admin), 422, "inactive")


async def test_negative_term_and_fee_are_refused(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    body = make_body("birth-registration", agency["id"], term_working_days=-3)
    assert_problem(await client.post(SERVICES, json=body, headers=admin), 422, "term_working_days")
    body = make_body("birth-registration", agency["id"], fee={"amount": -1, "currency": "KZT"})
    assert_problem(await client.post(SERVICES, json=body, headers=admin), 422, "fee.amount")


async def test_duplicate_code_is_a_conflict(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    await create(client, admin, make_body("birth-registration", agency["id"]))
    again = await client.post(
        SERVICES, json=make_body("birth-registration", agency["id"]), headers=admin
    )
    assert_problem(again, 409, "birth-registration")


# --- who may write and see ------------------------------------------------------------------


async def test_only_administrators_write(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    admin: dict[str, str],
    make_agency: AgencyMaker,
    make_body: BodyMaker,
) -> None:
    agency = await make_agency()
    body = make_body("birth-registration", agency["id"])
    assert_problem(await client.post(SERVICES, json=body), 401, "bearer")
    officer = issuer.headers(roles=["officer"], agency_id=agency["id"])
    assert_problem(await client.post(SERVICES, json=body, headers=officer), 403, "admin")
    service_id = await create_published(client, admin, body)
    resident = issuer.headers(roles=["resident"])
    for path in ("publish", "withdraw"):
        response = await client.post(f"{SERVICES}/{service_id}/{path}", headers=resident)
        assert_problem(response, 403, "admin")
    patch = await client.patch(
        f"{SERVICES}/{service_id}", json={"term_working_days": 2}, headers=resident
    )
    assert_problem(patch, 403, "admin")


async def test_drafts_are_invisible_to_the_public(
    client: httpx.AsyncClient,
    issuer: TestIssuer,
    admin: dict[str, str],
    make_agency: AgencyMaker,
    make_body: BodyMaker,
) -> None:
    agency = await make_agency()
    draft = await create(client, admin, make_body("birth-registration", agency["id"]))
    resident = issuer.headers(roles=["resident"])
    for headers in ({}, resident):
        for path in ("", "/draft", "/versions", "/versions/1", "/audit"):
            response = await client.get(f"{SERVICES}/{draft['id']}{path}", headers=headers)
            assert_problem(response, 404)
        listed = await client.get(SERVICES, params={"status": "draft"}, headers=headers)
        assert listed.json()["items"] == []
    as_admin = await client.get(f"{SERVICES}/{draft['id']}", headers=admin)
    assert as_admin.json()["status"] == "draft"
    assert [s["code"] for s in (await client.get(SERVICES, headers=admin)).json()["items"]] == [
        "birth-registration"
    ]


# --- versions -------------------------------------------------------------------------------


async def test_publishing_makes_immutable_versions_that_stay_readable(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    service_id = await create_published(
        client, admin, make_body("birth-registration", agency["id"])
    )
    public = (await client.get(f"{SERVICES}/{service_id}")).json()
    assert (public["status"], public["version"]) == ("published", 1)
    assert public["form_schema"]["properties"]["mother_iin"]["pattern"] == "^[0-9]{12}$"

    draft = await client.get(f"{SERVICES}/{service_id}/draft", headers=admin)
    edited = await client.patch(
        f"{SERVICES}/{service_id}",
        json={"fee": {"amount": 1966, "currency": "KZT"}, "term_working_days": 3},
        headers={**admin, "If-Match": draft.headers["ETag"]},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["has_unpublished_changes"] is True
    # The edit waits in the draft: what the public (and new applications) see is version 1.
    unchanged = (await client.get(f"{SERVICES}/{service_id}")).json()
    assert (unchanged["version"], unchanged["fee"]["amount"]) == (1, 0)

    second = await client.post(f"{SERVICES}/{service_id}/publish", headers=admin)
    assert (second.json()["version"], second.json()["fee"]["amount"]) == (2, 1966)
    # A request made under version 1 still reads the standard it was made under.
    pinned = (await client.get(f"{SERVICES}/{service_id}/versions/1")).json()
    assert (pinned["version"], pinned["fee"]["amount"], pinned["term_working_days"]) == (1, 0, 1)
    versions = (await client.get(f"{SERVICES}/{service_id}/versions")).json()
    assert [v["version"] for v in versions["items"]] == [1, 2]
    assert_problem(await client.get(f"{SERVICES}/{service_id}/versions/3"), 404, "latest is 2")
    again = await client.post(f"{SERVICES}/{service_id}/publish", headers=admin)
    assert_problem(again, 409, "Version 2")


async def test_editing_the_draft_needs_its_current_etag(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    created = await client.post(
        SERVICES, json=make_body("birth-registration", agency["id"]), headers=admin
    )
    url = f"{SERVICES}/{created.json()['id']}"
    change = {"term_working_days": 2}
    assert_problem(await client.patch(url, json=change, headers=admin), 428, "If-Match")
    first = await client.patch(
        url, json=change, headers={**admin, "If-Match": created.headers["ETag"]}
    )
    assert first.status_code == 200
    stale = await client.patch(
        url, json={"term_working_days": 4}, headers={**admin, "If-Match": created.headers["ETag"]}
    )
    assert_problem(stale, 412, '"2"')
    assert stale.json()["type"] == "urn:baikonur-portal:problem:precondition-failed"
    emptied = await client.patch(
        url, json={"fee": None}, headers={**admin, "If-Match": first.headers["ETag"]}
    )
    assert_problem(emptied, 422, "fee")
    code_change = await client.patch(
        url, json={"code": "other"}, headers={**admin, "If-Match": first.headers["ETag"]}
    )
    assert_problem(code_change, 422, "code")
    draft = await client.get(f"{url}/draft", headers=admin)
    assert (draft.json()["term_working_days"], draft.headers["ETag"]) == (2, first.headers["ETag"])
    # Admins' reads show drafts, so no shared cache may keep them.
    assert draft.headers["Cache-Control"] == "private, no-cache"
    unchanged = await client.get(
        f"{url}/draft", headers={**admin, "If-None-Match": draft.headers["ETag"]}
    )
    assert unchanged.status_code == 304


async def test_withdrawal_stops_listing_but_keeps_versions(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    service_id = await create_published(
        client, admin, make_body("birth-registration", agency["id"])
    )
    withdrawn = await client.post(
        f"{SERVICES}/{service_id}/withdraw", json={"reason": "replaced"}, headers=admin
    )
    assert withdrawn.json()["status"] == "withdrawn"
    assert (await client.get(SERVICES)).json()["items"] == []
    listed = (await client.get(SERVICES, params={"status": "withdrawn"})).json()["items"]
    assert [s["id"] for s in listed] == [service_id]
    pinned = (await client.get(f"{SERVICES}/{service_id}/versions/1")).json()
    assert (pinned["status"], pinned["version"]) == ("withdrawn", 1)
    again = await client.post(f"{SERVICES}/{service_id}/withdraw", headers=admin)
    assert_problem(again, 409, "withdrawn")
    republished = await client.post(f"{SERVICES}/{service_id}/publish", headers=admin)
    assert (republished.json()["status"], republished.json()["version"]) == ("published", 2)


async def test_audit_trail_records_who_did_what(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    service_id = await create_published(
        client, admin, make_body("birth-registration", agency["id"])
    )
    await client.post(f"{SERVICES}/{service_id}/withdraw", headers=admin)
    audit = (await client.get(f"{SERVICES}/{service_id}/audit", headers=admin)).json()
    assert [(e["action"], e["version"]) for e in audit["items"]] == [
        ("created", None),
        ("published", 1),
        ("withdrawn", 1),
    ]
    assert len({e["actor"] for e in audit["items"]}) == 1


# --- reads ----------------------------------------------------------------------------------


async def test_conditional_get_answers_304_until_the_service_changes(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    service_id = await create_published(
        client, admin, make_body("birth-registration", agency["id"])
    )
    url = f"{SERVICES}/{service_id}"
    first = await client.get(url)
    assert first.headers["Cache-Control"].startswith("public")
    etag = first.headers["ETag"]
    cached = await client.get(url, headers={"If-None-Match": etag})
    assert (cached.status_code, cached.content) == (304, b"")
    listed = await client.get(SERVICES)
    assert (
        await client.get(SERVICES, headers={"If-None-Match": listed.headers["ETag"]})
    ).status_code == 304
    await client.post(f"{url}/withdraw", headers=admin)
    changed = await client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["status"] == "withdrawn"


async def test_search_finds_services_in_each_language(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    civreg = await make_agency()
    land = await make_agency("BKR-LAND")
    await create_published(client, admin, make_body("birth-registration", civreg["id"]))
    await create_published(
        client,
        admin,
        make_body(
            "land-plot",
            land["id"],
            name={
                "kk": "Жер учаскесін беру",
                "ru": "Предоставление земельного участка",
                "en": "Allocation of a land plot",
            },
            description={
                "kk": "Құрылысқа арналған жер",
                "ru": "Земля под строительство",
                "en": "Land for construction",
            },
            channels=["psc"],
        ),
    )

    async def codes(**params: str) -> list[str]:
        response = await client.get(SERVICES, params=params)
        assert response.status_code == 200, response.text
        return [s["code"] for s in response.json()["items"]]

    assert await codes(q="тууын") == ["birth-registration"]  # Kazakh
    assert await codes(q="ЗЕМЕЛЬНОГО") == ["land-plot"]  # Russian, any case
    assert await codes(q="Birth") == ["birth-registration"]  # English
    assert await codes(q="100%_") == []
    assert await codes(channel="portal") == ["birth-registration"]
    assert await codes(agency_id=land["id"]) == ["land-plot"]
    assert await codes(updated_since="2000-01-01T00:00:00Z") == ["birth-registration", "land-plot"]
    assert await codes(updated_since="2999-01-01T00:00:00Z") == []


async def test_one_language_for_clients_that_want_flat_strings(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    service_id = await create_published(
        client, admin, make_body("birth-registration", agency["id"])
    )
    kk = await client.get(f"{SERVICES}/{service_id}", params={"lang": "kk"})
    assert kk.json()["name"] == "Баланың тууын тіркеу"
    assert kk.headers["Content-Language"] == "kk"
    assert kk.json()["form_schema"]["properties"]["mother_iin"]["title"] == "Ананың ЖСН"
    ru = await client.get(SERVICES, headers={"Accept-Language": "de;q=1, ru;q=0.8, en;q=0.5"})
    item = ru.json()["items"][0]
    assert item["name"] == "Регистрация рождения ребенка"
    assert item["refusal_grounds"][0]["text"] == "Недостоверность документов"
    # No language named: the three-language objects (the test client names English).
    full = await client.get(f"{SERVICES}/{service_id}", headers={"Accept-Language": ""})
    assert full.json()["name"]["en"] == "Registration of a child's birth"
    assert kk.headers["ETag"] != full.headers["ETag"]


async def test_pages_follow_the_cursor(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    for code in ("c-three", "a-one", "b-two"):
        await create_published(client, admin, make_body(code, agency["id"]))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(SERVICES, params=params)).json()
        seen += [s["code"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["a-one", "b-two", "c-three"]
    garbage = await client.get(SERVICES, params={"cursor": "garbage!"})
    assert_problem(garbage, 400, "cursor")
    assert garbage.json()["type"] == "urn:baikonur-portal:problem:invalid-cursor"
    assert_problem(await client.get(SERVICES, params={"limit": "500"}), 422, "limit")


async def test_hostile_input_is_refused_with_a_problem_not_a_crash(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    nul_name = make_body("x-nul", agency["id"], name={"kk": "a\u0000", "ru": "b", "en": "c"})
    assert_problem(await client.post(SERVICES, json=nul_name, headers=admin), 422, "NUL")
    assert_problem(await client.get(SERVICES, params={"q": "a\u0000"}), 422, "q")
    deep = '{"type": "object"}'
    for _ in range(300):
        deep = '{"type": "object", "properties": {"x": ' + deep[:-1] + ', "x-title": {}}}}'
    body = httpx.Request(
        "POST", "/", json=make_body("x-deep", agency["id"], form_schema={})
    ).content
    content = body.replace(b'"form_schema":{}', b'"form_schema":' + deep.encode())
    response = await client.post(
        SERVICES, content=content, headers={**admin, "content-type": "application/json"}
    )
    assert_problem(response, 422, "nested deeper")


async def test_document_rules_are_published_and_bad_ones_refused(
    client: httpx.AsyncClient, admin: dict[str, str], make_agency: AgencyMaker, make_body: BodyMaker
) -> None:
    agency = await make_agency()
    body = make_body("birth-registration", agency["id"])
    rules = {
        "optional": True,
        "content_types": ["application/pdf", "image/jpeg"],
        "max_size_bytes": 2_000_000,
        "max_count": 3,
    }
    body["required_documents"][0].update(rules)
    service_id = await create_published(client, admin, body)
    read = (await client.get(f"{SERVICES}/{service_id}", params={"lang": "en"})).json()
    (document,) = read["required_documents"]
    assert {k: document[k] for k in rules} == rules
    # Without rules: required, any accepted type, one file.
    plain = make_body("death-registration", agency["id"])
    plain_id = await create_published(client, admin, plain)
    (kind,) = (await client.get(f"{SERVICES}/{plain_id}", params={"lang": "en"})).json()[
        "required_documents"
    ]
    assert kind["optional"] is False
    assert kind["max_count"] == 1
    assert kind["content_types"] is None

    for bad in ({"content_types": ["pdf"]}, {"max_count": 0}, {"max_size_bytes": 0}):
        body = make_body("marriage-registration", agency["id"])
        body["required_documents"][0].update(bad)
        response = await client.post(SERVICES, json=body, headers=admin)
        assert response.status_code == 422, bad
