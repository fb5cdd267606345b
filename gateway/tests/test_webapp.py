"""The web app the gateway serves at `/` (gateway/webapp.py): a built folder's files with
their types and cache rules, index.html for the app's routes, and nothing else: not the
API's unknown paths, not a file outside the folder by any spelling of its path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import GatewaySettings

INDEX = b"<!doctype html><title>portal</title><div id=root></div>"
SCRIPT = b"console.log('portal');" * 100


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_bytes(INDEX)
    (folder / "assets" / "index-AbC123.js").write_bytes(SCRIPT)
    (folder / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("not for the web")
    (folder / "link.txt").symlink_to(tmp_path / "secret.txt")
    return folder


@pytest.fixture
async def client(dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(GatewaySettings(web_app_dir=dist, hsts=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as c:
        yield c


async def test_the_app_is_at_the_root_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.content == INDEX
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    again = await client.get("/", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_hashed_assets_are_immutable_and_compressed(client: httpx.AsyncClient) -> None:
    response = await client.get("/assets/index-AbC123.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.content == SCRIPT  # httpx undoes the gzip
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"].startswith("text/javascript")
    assert "immutable" in response.headers["cache-control"]
    svg = await client.get("/favicon.svg")
    assert svg.headers["content-type"] == "image/svg+xml"


@pytest.mark.parametrize("path", ["/callback", "/requests/0b3e9c1e-1d2f-4c55-9a43-5d8e2f7c1a10"])
async def test_the_apps_routes_get_the_page(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.content == INDEX
    # An API client's mistyped path is still the 404 problem it can read.
    assert (await client.get(path, headers={"Accept": "*/*"})).status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/api/v9/anything", "/auth", "/assets/missing-123.js", "/link.txt", "/%2e%2e/secret.txt"],
)
async def test_what_is_not_the_apps_stays_a_problem(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers={"Accept": "text/html"})
    assert response.status_code in (400, 404)
    assert response.headers["content-type"] == "application/problem+json"
    assert b"not for the web" not in response.content


async def test_only_reads(client: httpx.AsyncClient) -> None:
    response = await client.post("/callback", content=b"x", headers={"Accept": "text/html"})
    assert response.status_code == 404
