"""The web app in a real browser: the whole portal as `make run` starts it (free ports, its
own data folder), the app built by `make web` and served by its gateway, and Debian's
Chromium driven by Playwright for Python (never `playwright install`: `make browser` installs
`chromium` with apt).

The browser opens the portal at its PUBLIC_URL (http://localhost:<port>), the origin the
identity seed registers the app's redirect URI for. `PORTAL_TEST_WEB_ORIGIN` (e.g.
http://localhost:8000 with `make run` going) runs the tests against a portal already up.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from portal_testing.portal import Portal

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = "/usr/bin/chromium"
# Root in a container: no sandbox; nothing may call home or reach beyond the portal.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def web_portal(request: pytest.FixtureRequest) -> Portal | None:
    """The session's `whole_portal` (started here if the API journeys have not), or None
    when PORTAL_TEST_WEB_ORIGIN names a portal already running."""
    if os.environ.get("PORTAL_TEST_WEB_ORIGIN"):
        return None
    portal: Portal = request.getfixturevalue("whole_portal")
    return portal


@pytest.fixture(scope="session")
def origin(web_portal: Portal | None) -> str:
    if web_portal is None:
        return os.environ["PORTAL_TEST_WEB_ORIGIN"].rstrip("/")
    return f"http://localhost:{web_portal.port('gateway')}"


# Module scope, not session: while the sync API is alive its event loop counts as running in
# this thread, and the suite's asyncio tests that follow could not start theirs.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make browser` installs Debian's chromium")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


def new_page(browser: Browser, viewport: dict[str, int], lang: str | None = None) -> Page:
    context: BrowserContext = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(20_000)
    if lang is not None:
        context.add_init_script(f"window.localStorage.setItem('lang', '{lang}')")
    return context.new_page()
