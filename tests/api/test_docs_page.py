"""The gateway's /docs in a real browser: Swagger UI renders every operation of the merged
document from assets the gateway serves itself, and no request leaves the machine (no CDN,
no validator badge). Chromium is Debian's (`make browser`), driven by Playwright."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Route, async_playwright

from gateway.app import create_app as create_gateway
from gateway.settings import GatewaySettings
from portal_embedded.broker import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Served:
    """The four services (only their documents are asked for, so no lifespan: no database
    or broker) and a real gateway in front of them, under uvicorn in a thread of their own."""

    def __init__(self, services: dict[str, FastAPI]) -> None:
        ports = {name: free_port() for name in services}
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        settings = GatewaySettings(
            port=self.port,
            public_url=self.origin,
            log_json=False,
            identity_url=url["identity"],
            directory_url=url["directory"],
            catalog_url=url["catalog"],
            requests_url=url["requests"],
        )
        self.servers = [
            uvicorn.Server(
                uvicorn.Config(app, port=ports[name], lifespan="off", log_level="warning")
            )
            for name, app in services.items()
        ]
        self.servers.append(
            uvicorn.Server(
                uvicorn.Config(create_gateway(settings), port=self.port, log_level="warning")
            )
        )
        self.thread = threading.Thread(target=self._run, name="docs-portal")

    def _run(self) -> None:
        async def serve_all() -> None:
            await asyncio.gather(*(server.serve() for server in self.servers))

        asyncio.run(serve_all())

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not all(server.started for server in self.servers):
            assert self.thread.is_alive(), "the portal stopped while starting"
            assert time.monotonic() < deadline, "the portal did not start in time"
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        for server in self.servers:
            server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def chromium() -> Path:
    assert CHROMIUM.exists(), "Chromium is missing: `make browser` installs it"
    return CHROMIUM


@pytest.fixture(scope="module")
def portal(service_apps: dict[str, FastAPI]) -> Iterator[Served]:
    with Served(service_apps) as served:
        yield served


async def test_docs_render_every_operation_from_this_origin_only(
    portal: Served, merged_openapi: dict[str, Any], chromium: Path
) -> None:
    operations = sum(
        1 for item in merged_openapi["paths"].values() for method in item if method != "parameters"
    )
    requested: list[str] = []
    refused: list[str] = []
    problems: list[str] = []

    async def only_this_origin(route: Route) -> None:
        url = route.request.url
        requested.append(url)
        if url.startswith(portal.origin + "/") or url.startswith("data:"):
            await route.continue_()
        else:
            refused.append(url)
            await route.abort()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            page = await browser.new_page()
            await page.route("**/*", only_this_origin)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.goto(portal.origin + "/docs")
            blocks = page.locator(".opblock")
            await blocks.nth(operations - 1).wait_for(timeout=30_000)
            shown = await blocks.count()
            titles = await page.locator(".opblock-summary-operation-id").all_inner_texts()
            authorize = await page.locator("button.authorize").count()
        finally:
            await browser.close()
    assert not refused, f"the page asked other sites for {refused}"
    assert all(url.startswith((portal.origin + "/", "data:")) for url in requested)
    assert portal.origin + "/openapi.json" in requested
    assert shown == operations
    assert {"listAgencies", "submitRequest", "publishService"} <= set(titles)
    # The OAuth2 scheme gives the page its sign-in button.
    assert authorize == 1
    assert not problems, problems


async def test_the_sign_in_redirect_page_is_served_from_the_docs(portal: Served) -> None:
    async with httpx.AsyncClient(base_url=portal.origin) as client:
        page = await client.get("/docs/oauth2-redirect")
        script = await client.get("/docs/oauth2-redirect.js")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="oauth2-redirect.js">' in page.text
    assert script.status_code == 200
    assert "swaggerUIRedirectOauth2" in script.text


async def test_each_service_serves_its_own_docs_without_a_cdn(
    service_apps: dict[str, FastAPI],
) -> None:
    for name, app in service_apps.items():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            page = await client.get("/docs")
            assert page.status_code == 200, name
            assert "//cdn" not in page.text
            assert "http" not in page.text.replace("http-equiv", ""), name
            for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
                assert f"/docs/assets/{asset}" in page.text
                assert (await client.get(f"/docs/assets/{asset}")).status_code == 200
