"""The gateway's own problems read in the caller's language, like the services' own:
Kazakh by default, Russian or English by Accept-Language, with Content-Language and a code."""

from __future__ import annotations

from portal_testing.processes import Connect, Process

RUSSIAN = {"Accept-Language": "ru-RU,ru;q=0.9"}


async def test_the_gateway_s_own_problems_are_in_russian_on_request(
    edge: Process, connect: Connect
) -> None:
    async with connect(edge, "127.0.0.61") as client:
        unknown = await client.get("/nowhere", headers=RUSSIAN)
        down = await client.get("/test/down/anything", headers=RUSSIAN)
        post_only = await client.post("/healthz", headers=RUSSIAN)
        too_big = await client.post("/auth/token", content=b"x" * 200_000, headers=RUSSIAN)
    expected = {
        unknown: (404, "not-found", "Не найдено", "По адресу /nowhere не отвечает ни один сервис"),  # noqa: RUF001
        down: (503, "service-unavailable", "Сервис недоступен", "Сервис down сейчас недоступен"),
        post_only: (405, "method-not-allowed", "Метод не разрешён", "/healthz отвечает только"),
        too_big: (413, "payload-too-large", "Слишком большое тело запроса", "Тело запроса"),
    }
    for response, (status, code, title, detail) in expected.items():
        assert response.status_code == status
        assert response.headers["content-language"] == "ru"
        problem = response.json()
        assert problem["code"] == code
        assert problem["title"] == title
        assert problem["detail"].startswith(detail), problem["detail"]


async def test_the_gateway_answers_in_kazakh_by_default(edge: Process, connect: Connect) -> None:
    async with connect(edge, "127.0.0.62") as client:
        response = await client.get("/nowhere", headers={"Accept-Language": ""})
    assert response.status_code == 404
    assert response.headers["content-language"] == "kk"
    assert response.json()["title"] == "Табылмады"
    assert response.json()["detail"].startswith("/nowhere мекенжайына")
