"""The OAuth 2.0 / OIDC endpoints under /auth, as the public sees them.

Each handler reads the request asynchronously, builds an authlib request and a
per-request server, runs authlib in a worker thread and turns its answer into
a Starlette response. OAuth errors keep RFC 6749's `error` and
`error_description` (what client libraries read) and add the problem+json
members `type`, `title`, `status` and `detail`.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any
from urllib.parse import unquote

import orjson
from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from identity import keys, login, throttle
from identity.deps import PasswordsDep, SettingsDep
from identity.models import Account, OAuthClient, RefreshToken
from identity.oauth import (
    AuthlibResponse,
    OAuthContext,
    PortalAuthorizationServer,
    StarletteOAuth2Request,
    User,
    decode_own_jwt,
    revocation,
    user_claims,
)
from identity.oauth_openapi import (
    INTROSPECT_FORM,
    INTROSPECTED,
    KEY_SET,
    REVOKE_FORM,
    REVOKED,
    TOKEN_FORM,
    TOKEN_ISSUED,
)
from identity.settings import IdentitySettings
from identity.signin import Refused, sign_in
from portal_shared import scopes
from portal_shared.auth import Principal
from portal_shared.db import SessionDep
from portal_shared.errors import Forbidden, Unauthorized, problem_responses

router = APIRouter(prefix="/auth", tags=["oauth"])

FORM_ONLY = ("username", "password", "csrf_token")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SCOPES = list(scopes.SCOPES)
# userinfo: a token with the scope openid (RFC 6750 insufficient_scope without it).
OpenIdDep = Annotated[Principal, Depends(scopes.require_scope(scopes.OPENID))]
# What the OAuth endpoints answer besides success, for the OpenAPI document (clients and
# the fuzzer check answers against it): RFC 6749 errors with the problem members, and the
# login form shown again, for a person, with its error.
OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "type", "title", "status", "detail"],
    "properties": {
        "error": {"type": "string"},
        "error_description": {"type": "string"},
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}
OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {
        "description": description,
        "content": {"application/json": {"schema": OAUTH_ERROR_SCHEMA}},
    }
    for status, description in (
        (400, "An OAuth error (RFC 6749 `error`)"),
        (401, "The client did not authenticate (`invalid_client`)"),
    )
}
HTML: dict[str, Any] = {"text/html": {"schema": {"type": "string"}}}
LOGIN_PAGES: dict[int | str, dict[str, Any]] = {
    302: {"description": "Back to the client's verified redirect URI, with a code or an error"},
    400: {
        "description": "The request cannot be authorized (shown, never redirected)",
        "content": HTML,
    },
    401: {"description": "Wrong login or password (the form again)", "content": HTML},
    429: {"description": "Too many failed logins (the form again)", "content": HTML},
}

LOGOUT_REDIRECT: dict[str, Any] = {
    "description": "To the client's registered post-logout redirect URI"
}


def _uri(settings: IdentitySettings, request: Request) -> str:
    # authlib refuses non-TLS URIs except loopback; the public URL is what the client used.
    query = f"?{request.url.query}" if request.url.query else ""
    return settings.public_url.rstrip("/") + request.url.path + query


def _response(result: AuthlibResponse) -> Response:
    headers = {k: v for k, v in result.headers if k.lower() != "content-type"}
    headers.update(NO_STORE)
    if result.status in (301, 302, 303) and result.location:
        return RedirectResponse(result.location, status_code=302, headers=NO_STORE)
    body = result.body
    if isinstance(body, dict) and result.status >= 400 and "error" in body:
        body = {
            **body,
            "type": f"urn:baikonur-portal:problem:oauth-{body['error']}",
            "title": str(body["error"]),
            "status": result.status,
            "detail": str(body.get("error_description") or body["error"]),
            "code": f"oauth-{body['error']}",
        }
    content = orjson.dumps(body) if isinstance(body, dict) else str(body or "").encode()
    return Response(
        content, status_code=result.status, media_type="application/json", headers=headers
    )


async def _form_items(request: Request) -> list[tuple[str, str]]:
    form = await request.form()
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


def _render(
    request: Request,
    settings: IdentitySettings,
    lang: str,
    hidden: list[tuple[str, str]],
    **kw: Any,
) -> HTMLResponse:
    return login.render(
        request,
        secret=settings.key_encryption_secret,
        lang=lang,
        action="/auth/authorize",
        hidden=hidden,
        secure=settings.issuer.startswith("https:"),
        **kw,
    )


def _authorize_error(
    request: Request,
    settings: IdentitySettings,
    server: PortalAuthorizationServer,
    oreq: StarletteOAuth2Request,
    error: OAuth2Error,
    lang: str,
) -> Response:
    if error.redirect_uri:
        # The client and its redirect URI are verified: the error goes back to it, with iss.
        result: AuthlibResponse = server.handle_error_response(oreq, error)
        location = add_params_to_uri(
            result.location or error.redirect_uri, {"iss": settings.issuer}
        )
        return RedirectResponse(location, status_code=302, headers=NO_STORE)
    # An unknown client or a redirect URI that does not match exactly: never redirect.
    return _render(
        request,
        settings,
        lang,
        [],
        message_key="error",
        detail=str(error.description or error.error),
        status=400,
        show_form=False,
    )


def _malformed(request: Request, settings: IdentitySettings, lang: str) -> HTMLResponse:
    # authlib refuses to build an error whose text would carry control characters.
    return _render(
        request,
        settings,
        lang,
        [],
        message_key="error",
        detail="a parameter contains characters that are not allowed",
        status=400,
        show_form=False,
    )


async def _run_endpoint(fn: Any, *args: Any) -> Response:
    """Run an authlib token-side call; input it cannot even describe is an invalid_request."""
    return _response(await _call_endpoint(fn, *args))


async def _call_endpoint(fn: Any, *args: Any) -> AuthlibResponse:
    try:
        result: AuthlibResponse = await run_in_threadpool(fn, *args)
    except ValueError:
        result = AuthlibResponse(
            400,
            {
                "error": "invalid_request",
                "error_description": "a parameter contains characters that are not allowed",
            },
            [],
        )
    return result


@router.get("/.well-known/openid-configuration", summary="OpenID Connect discovery")
async def get_openid_configuration(settings: SettingsDep) -> dict[str, Any]:
    issuer = settings.issuer
    auth_methods = ["client_secret_basic", "client_secret_post", "none"]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "end_session_endpoint": f"{issuer}/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods[:2],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [keys.ALGORITHM],
        "scopes_supported": SCOPES,
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "name",
            "given_name",
            "family_name",
            "preferred_username",
            "email",
            "email_verified",
            "phone_number",
            "roles",
            "agency_id",
        ],
        "ui_locales_supported": list(login.LANGUAGES),
        "authorization_response_iss_parameter_supported": True,
    }


@router.get("/jwks", summary="The signing keys: current and previous", responses=KEY_SET)
async def get_jwks(session: SessionDep) -> Response:
    body = {"keys": await keys.published_keys(session)}
    # Short caching: resource servers also refetch on an unknown kid.
    return Response(
        orjson.dumps(body), media_type="application/json", headers={"Cache-Control": "max-age=60"}
    )


@router.get(
    "/authorize",
    response_class=HTMLResponse,
    summary="Authorization endpoint (login form)",
    responses={k: LOGIN_PAGES[k] for k in (302, 400)},
)
async def authorize(
    request: Request, session: SessionDep, settings: SettingsDep, passwords: PasswordsDep
) -> Response:
    query = list(request.query_params.multi_items())
    params = [(k, v) for k, v in query if k not in FORM_ONLY]
    lang = login.language(request, dict(params))
    server = PortalAuthorizationServer(OAuthContext(session, settings, passwords))
    oreq = StarletteOAuth2Request("GET", _uri(settings, request), request.headers, params, [])
    try:
        await run_in_threadpool(server.get_consent_grant, oreq)
    except OAuth2Error as error:
        return _authorize_error(request, settings, server, oreq, error, lang)
    except ValueError:
        return _malformed(request, settings, lang)
    return _render(request, settings, lang, params)


@router.post(
    "/authorize",
    response_class=HTMLResponse,
    summary="Sign in and authorize",
    responses=LOGIN_PAGES,
)
async def authorize_submit(
    request: Request, session: SessionDep, settings: SettingsDep, passwords: PasswordsDep
) -> Response:
    items = await _form_items(request)
    fields = dict(items)
    params = [(k, v) for k, v in items if k not in FORM_ONLY]
    lang = login.language(request, dict(params))
    if not login.csrf_valid(
        settings.key_encryption_secret,
        request.cookies.get(login.CSRF_COOKIE),
        fields.get("csrf_token"),
    ):
        return _render(request, settings, lang, params, message_key="csrf", status=400)
    server = PortalAuthorizationServer(OAuthContext(session, settings, passwords))
    oreq = StarletteOAuth2Request("POST", _uri(settings, request), request.headers, [], params)
    try:
        grant = await run_in_threadpool(server.get_consent_grant, oreq)
    except OAuth2Error as error:
        return _authorize_error(request, settings, server, oreq, error, lang)
    except ValueError:
        return _malformed(request, settings, lang)
    outcome = await sign_in(
        session,
        settings=settings,
        passwords=passwords,
        login=fields.get("username", ""),
        password=fields.get("password", ""),
        address=request.client.host if request.client else "unknown",
    )
    if outcome is Refused.THROTTLED:
        return _render(request, settings, lang, params, message_key="throttled", status=429)
    if isinstance(outcome, Refused):
        return _render(request, settings, lang, params, message_key="failed", status=401)
    result = await run_in_threadpool(
        server.create_authorization_response, oreq, User.from_row(outcome), grant
    )
    return _response(result)


@router.post(
    "/token",
    summary="Token endpoint",
    responses={**TOKEN_ISSUED, **OAUTH_ERRORS},
    openapi_extra=TOKEN_FORM,
)
async def issue_token(
    request: Request, session: SessionDep, settings: SettingsDep, passwords: PasswordsDep
) -> Response:
    items = await _form_items(request)
    client_key = _client_key(request.headers.get("authorization"), items)
    if client_key is not None and await throttle.is_locked(session, client_key):
        return _response(
            AuthlibResponse(
                429,
                {
                    "error": "invalid_client",
                    "error_description": "too many failed authentications of this client;"
                    f" retry after {settings.login_lockout} s",
                },
                [("Retry-After", str(settings.login_lockout))],
            )
        )
    key = await keys.current_key(session, settings.key_encryption_secret)
    server = PortalAuthorizationServer(OAuthContext(session, settings, passwords, key=key))
    oreq = StarletteOAuth2Request("POST", _uri(settings, request), request.headers, [], items)
    result = await _call_endpoint(server.create_token_response, oreq)
    failed = isinstance(result.body, dict) and result.body.get("error") == "invalid_client"
    if client_key is not None and failed:
        # Counted per client id, wherever the attempts come from; a known client's lock
        # (like an account's) is what stops guessing its secret.
        await throttle.record_failure(
            session,
            client_key,
            max_failures=settings.client_auth_max_failures,
            window=settings.login_failure_window,
            lockout=settings.login_lockout,
        )
    return _response(result)


def _client_key(authorization: str | None, items: list[tuple[str, str]]) -> str | None:
    """`client:<id>` for the client the request authenticates as (Basic or form), if any."""
    client_id = dict(items).get("client_id")
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        client_id = unquote(decoded.partition(":")[0]) or client_id
    if not client_id or "\x00" in client_id:
        # No registered client has a NUL in its id (PostgreSQL text cannot hold one), so
        # there is no client to protect, and the key could not be stored either.
        return None
    return f"client:{client_id[:200]}"


async def _endpoint(
    name: str, request: Request, session: SessionDep, settings: IdentitySettings, passwords: Any
) -> Response:
    items = await _form_items(request)
    published = await keys.published_keys(session)
    ctx = OAuthContext(session, settings, passwords, jwks=published)
    server = PortalAuthorizationServer(ctx)
    oreq = StarletteOAuth2Request("POST", _uri(settings, request), request.headers, [], items)
    return await _run_endpoint(server.create_endpoint_response, name, oreq)


@router.post(
    "/revoke",
    summary="Token revocation (RFC 7009)",
    responses={**REVOKED, **OAUTH_ERRORS},
    openapi_extra=REVOKE_FORM,
)
async def revoke_token(
    request: Request, session: SessionDep, settings: SettingsDep, passwords: PasswordsDep
) -> Response:
    return await _endpoint("revocation", request, session, settings, passwords)


@router.post(
    "/introspect",
    summary="Token introspection (RFC 7662)",
    responses={**INTROSPECTED, **OAUTH_ERRORS},
    openapi_extra=INTROSPECT_FORM,
)
async def introspect_token(
    request: Request, session: SessionDep, settings: SettingsDep, passwords: PasswordsDep
) -> Response:
    return await _endpoint("introspection", request, session, settings, passwords)


@router.get(
    "/userinfo",
    summary="OIDC userinfo",
    operation_id="getUserinfo",
    responses=problem_responses(Unauthorized, Forbidden),
)
@router.post(
    "/userinfo",
    summary="OIDC userinfo",
    operation_id="postUserinfo",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def userinfo(session: SessionDep, principal: OpenIdDep, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "no-store"  # personal data (OIDC Core 5.3.2)
    if principal.account_id is None:
        raise Forbidden(
            message_key="error.userinfo-person",
            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="openid"'},
        )
    account = await session.get(Account, principal.account_id)
    if account is None or account.status != "active":
        raise Unauthorized(message_key="error.account-signed-out")
    claims = user_claims(User.from_row(account), " ".join(principal.scopes))
    return {"sub": str(account.id), **claims}


@router.get(
    "/logout",
    response_class=HTMLResponse,
    summary="RP-initiated logout",
    operation_id="endSession",
    responses={302: LOGOUT_REDIRECT},
)
@router.post(
    "/logout",
    response_class=HTMLResponse,
    summary="RP-initiated logout",
    operation_id="postEndSession",
    responses={302: LOGOUT_REDIRECT},
)
async def logout(
    request: Request, session: SessionDep, settings: SettingsDep, passwords: PasswordsDep
) -> Response:
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        items += await _form_items(request)
    params = dict(items)
    lang = login.language(request, params)
    ctx = OAuthContext(session, settings, passwords, jwks=await keys.published_keys(session))
    claims = None
    if params.get("id_token_hint"):
        # An expired ID token still says who is leaving.
        claims = decode_own_jwt(ctx, params["id_token_hint"], verify_aud=False, verify_exp=False)
    client_id = params.get("client_id") or (str(claims["aud"]) if claims else None)
    if claims and params.get("client_id") and claims.get("aud") != params["client_id"]:
        claims = None
    client = await session.get(OAuthClient, client_id) if client_id else None
    if claims and client is not None:
        # Signing out ends the person's grants at this client, access tokens included.
        families = await session.scalars(
            select(RefreshToken.family_id)
            .distinct()
            .where(
                col(RefreshToken.account_id) == claims["sub"],
                col(RefreshToken.client_id) == client.client_id,
                col(RefreshToken.revoked_at).is_(None),
            )
        )
        await revocation.revoke_families(session, list(families), reason=revocation.LOGOUT)
    target = params.get("post_logout_redirect_uri")
    if target and client is not None and target in client.post_logout_redirect_uris:
        if params.get("state"):
            target = add_params_to_uri(target, {"state": params["state"]})
        return RedirectResponse(target, status_code=302, headers=NO_STORE)
    return _render(
        request, settings, lang, [], message_key="signed_out", show_form=False, status=200
    )
