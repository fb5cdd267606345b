"""Test support: the browser-and-client side of the code flow, written by hand with httpx
(not authlib): PKCE S256 made here, the login form parsed as a browser would, the code
exchanged. The identity tests use it; end-to-end tests through the gateway can too."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from portal_shared.kz import check_digit
from portal_shared.scopes import SCOPES

WEB_CALLBACK = "http://localhost:8000/callback"
TEST_AGENCY_ID = uuid.uuid5(uuid.NAMESPACE_URL, "urn:baikonur-portal:agency:BKR-TEST")
ADMIN_PASSWORD = "admin-test-password-1"
WEB_SCOPE = " ".join(SCOPES)


def valid_iin(serial: int = 1) -> str:
    """A valid IIN (born 1 January 1990), a different one for each serial."""
    for n in range(serial, serial + 1000):
        first = f"9001013{n:04d}"
        digit = check_digit(first)
        if digit is not None:
            return first + str(digit)
    raise AssertionError("no IIN found")


class FlowError(AssertionError):
    """A step of the flow did not answer as a working identity service would."""


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise FlowError(f"expected {status}, got {response.status_code}: {response.text[:500]}")


_INPUT = re.compile(
    r'<input type="(?:hidden|text|password)"[^>]*?name="([^"]+)"(?:[^>]*?value="([^"]*)")?'
)


@dataclass
class Tokens:
    access_token: str
    refresh_token: str | None
    id_token: str | None
    body: dict[str, Any]


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def form_fields(html: str) -> dict[str, str]:
    """The inputs of the login form, as a browser would post them."""
    return {name: unescape(value or "") for name, value in _INPUT.findall(html)}


def authorize_params(challenge: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": "portal-web",
        "redirect_uri": WEB_CALLBACK,
        # What the web application asks for: sign-in and every API scope it is registered
        # with (identity grants only those of them the client has).
        "scope": WEB_SCOPE,
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return {k: v for k, v in params.items() if v != ""}


async def submit_login(
    client: httpx.AsyncClient, params: dict[str, str], username: str, password: str
) -> httpx.Response:
    page = await client.get("/auth/authorize", params=params)
    _expect(page, 200)
    fields = form_fields(page.text)
    fields.update(username=username, password=password)
    return await client.post("/auth/authorize", data=fields)


def redirect_query(response: httpx.Response) -> dict[str, str]:
    _expect(response, 302)
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def authorization_code(
    client: httpx.AsyncClient, username: str, password: str, challenge: str, **extra: str
) -> str:
    params = authorize_params(challenge, **extra)
    query = redirect_query(await submit_login(client, params, username, password))
    if query.get("state") != params["state"]:
        raise FlowError(f"the state came back changed: {query}")
    return query["code"]


async def exchange(
    client: httpx.AsyncClient, code: str, verifier: str, **extra: str
) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": WEB_CALLBACK,
        "client_id": "portal-web",
        "code_verifier": verifier,
    }
    data.update(extra)
    return await client.post("/auth/token", data=data)


async def sign_in_with_pkce(
    client: httpx.AsyncClient, username: str, password: str, *, scope: str = WEB_SCOPE
) -> Tokens:
    """Sign in through portal-web; `scope` is what the application asks for."""
    verifier, challenge = pkce_pair()
    code = await authorization_code(client, username, password, challenge, scope=scope)
    response = await exchange(client, code, verifier)
    _expect(response, 200)
    body = response.json()
    return Tokens(body["access_token"], body.get("refresh_token"), body.get("id_token"), body)


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(
        "/auth/token",
        content=urlencode(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": "portal-web",
            }
        ),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
