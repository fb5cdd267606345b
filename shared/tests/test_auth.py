"""Every resource server's token check (portal_shared.auth), with real signed tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Annotated

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI

from portal_shared.auth import Principal, PrincipalDep, TokenVerifier, parse_bearer
from portal_shared.errors import Unauthorized, install_error_handlers
from portal_shared.scopes import USERS_ADMIN, require_scope
from portal_testing.service import TestIssuer, client_for


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture
def verifier(issuer: TestIssuer) -> TokenVerifier:
    return issuer.verifier()


async def test_valid_token_gives_the_principal(issuer: TestIssuer, verifier: TokenVerifier) -> None:
    agency = uuid.uuid4()
    principal = await verifier.verify(
        issuer.token(roles=["officer"], agency_id=agency, scope="openid requests:read")
    )
    assert principal.roles == {"officer"}
    assert principal.agency_id == agency
    assert "requests:read" in principal.scopes
    assert not principal.is_client


def _unsigned(issuer: TestIssuer) -> str:
    token = issuer.token()
    _, payload, _ = token.split(".")
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "none", "typ": "at+jwt", "kid": issuer.kid}).encode()
    ).rstrip(b"=")
    return f"{header.decode()}.{payload}."


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("alg_none", "algorithm"),
        ("wrong_key", "not valid"),
        ("wrong_iss", "another issuer"),
        ("wrong_aud", "not meant for this API"),
        ("expired", "expired"),
        ("id_token_typ", "not an access token"),
        ("garbage", "malformed"),
    ],
)
async def test_bad_tokens_are_refused(
    issuer: TestIssuer, verifier: TokenVerifier, case: str, reason: str
) -> None:
    now = int(time.time())
    tokens: dict[str, Callable[[], str]] = {
        "alg_none": lambda: _unsigned(issuer),
        "wrong_key": lambda: _forged(issuer),
        "wrong_iss": lambda: issuer.token(iss="https://evil.example/auth"),
        "wrong_aud": lambda: issuer.token(aud="another-api"),
        "expired": lambda: issuer.token(iat=now - 600, exp=now - 300),
        "id_token_typ": lambda: _with_typ(issuer, "JWT"),
        "garbage": lambda: "not-a-jwt",
    }
    with pytest.raises(Unauthorized, match=reason):
        await verifier.verify(tokens[case]())


def _forged(issuer: TestIssuer) -> str:
    """Signed with another key under the issuer's key id."""
    forger = TestIssuer()
    forger.kid = issuer.kid
    forger.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return forger.token()


def _with_typ(issuer: TestIssuer, typ: str) -> str:
    claims = jwt.decode(issuer.token(), options={"verify_signature": False})
    return jwt.encode(
        claims, issuer.key, algorithm="RS256", headers={"kid": issuer.kid, "typ": typ}
    )


async def test_rotated_key_is_fetched_on_unknown_kid(issuer: TestIssuer) -> None:
    verifier = issuer.verifier()
    verifier.min_refetch_interval = 0
    await verifier.verify(issuer.token())
    issuer.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer.kid = "rotated"
    principal = await verifier.verify(issuer.token(roles=["admin"]))
    assert principal.roles == {"admin"}


def _app(issuer: TestIssuer) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.token_verifier = issuer.verifier()

    @app.get("/me")
    async def me(principal: PrincipalDep) -> dict[str, str]:
        return {"sub": principal.subject}

    @app.get("/admin")
    async def admin(
        principal: Annotated[Principal, Depends(require_scope(USERS_ADMIN, roles=["admin"]))],
    ) -> dict[str, str]:
        return {"sub": principal.subject}

    return app


async def test_missing_token_is_401_with_challenge(issuer: TestIssuer) -> None:
    async with client_for(_app(issuer)) as client:
        response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


async def test_wrong_role_is_403_and_right_role_passes(issuer: TestIssuer) -> None:
    async with client_for(_app(issuer)) as client:
        resident = await client.get("/admin", headers=issuer.headers(roles=["resident"]))
        admin = await client.get("/admin", headers=issuer.headers(roles=["admin"], sub="a" * 8))
    assert resident.status_code == 403
    assert resident.json()["detail"] == "This needs the role admin"
    assert admin.status_code == 200
    assert admin.json() == {"sub": "a" * 8}


@pytest.mark.parametrize(
    ("header", "token"),
    [(None, None), ("", None), ("Bearer abc.def", "abc.def"), ("bearer   abc ", "abc")],
)
def test_bearer_header_values_give_their_token(header: str | None, token: str | None) -> None:
    assert parse_bearer(header) == token


@pytest.mark.parametrize("header", ["Bearer", "Bearer   ", "Basic Zm9vOmJhcg==", "Digest x"])
def test_malformed_or_foreign_authorization_is_401(header: str) -> None:
    with pytest.raises(Unauthorized) as refused:
        parse_bearer(header)
    assert refused.value.headers["WWW-Authenticate"] == 'Bearer error="invalid_request"'


def test_another_scheme_is_left_alone_where_it_may_be_someone_elses() -> None:
    # The gateway passes a client's Basic credentials on to the token endpoint...
    assert parse_bearer("Basic Zm9vOmJhcg==", other_schemes=True) is None
    # ...but a bearer header without a token is still malformed.
    with pytest.raises(Unauthorized):
        parse_bearer("Bearer ", other_schemes=True)


async def test_basic_scheme_is_refused(issuer: TestIssuer) -> None:
    async with client_for(_app(issuer)) as client:
        response = await client.get("/me", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


async def test_retired_key_stops_verifying_once_the_cache_ages(issuer: TestIssuer) -> None:
    verifier = issuer.verifier()
    verifier.min_refetch_interval = 0
    old_token = issuer.token()
    await verifier.verify(old_token)
    # The issuer retires the key: its JWKS no longer lists it.
    issuer.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer.kid = "newer"
    verifier.max_key_age = 0
    with pytest.raises(Unauthorized, match="unknown key"):
        await verifier.verify(old_token)


async def test_a_verified_token_is_remembered_only_until_it_expires(issuer: TestIssuer) -> None:
    verifier = issuer.verifier()
    verifier.leeway = 0
    # Whole seconds: it expires between 1 and 2 s from now.
    token = issuer.token(ttl=2)
    assert (await verifier.verify(token)).subject
    # A repeat, answered from what the first call verified, is accepted as well.
    assert (await verifier.verify(token)).subject
    await asyncio.sleep(2.1)
    with pytest.raises(Unauthorized, match="expired"):
        await verifier.verify(token)
