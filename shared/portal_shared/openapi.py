"""What every service's OpenAPI document says beyond FastAPI's defaults, derived in one place.

Client generators name methods after operationIds, types after schema names, and
learn from `securitySchemes` and `security` how to authenticate; a client team
also has to know every status it may be answered. So:

- operationIds are the handler's name in camelCase (`list_agencies` ->
  `listAgencies`), set as FastAPI's `generate_unique_id_function`;
- `security` is derived from each route's dependencies: a route that needs a
  principal (PrincipalDep, `require_scope`) takes the OAuth2 scheme or a bearer
  token, and one that only looks at an optional principal (`optional_scope`) also
  takes no credentials at all (`{}`);
- the scopes an operation needs are those its `require_scope` checks name
  (`portal_shared.scopes.declare_route_scopes` writes them under
  `x-required-scopes`, read here);
- every error status is answered as application/problem+json, and a token-taking
  operation documents 401 and 403.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Protocol

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from portal_shared import auth
from portal_shared.errors import PROBLEM_JSON
from portal_shared.scopes import OAUTH2, OPTIONAL_KEY, SCOPES, SCOPES_KEY, dependency_calls

PROBLEM_REF = "#/components/schemas/Problem"


def problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": (
        "RFC 9457 problem details. `title`, `detail` and each error's `message` are in the "
        "language `Accept-Language` asks for (kk, ru or en; Kazakh by default), named in the "
        "`Content-Language` header; `code` and `pointer` are the same in every language."
    ),
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string", "description": "Stable, machine-readable (the type's slug)"},
        "errors": {
            "type": "array",
            "description": "Every violation of a validation problem",
            "items": {
                "title": "ProblemError",
                "type": "object",
                "properties": {
                    "pointer": {"type": "string", "description": "JSON Pointer into the body"},
                    "parameter": {
                        "type": "string",
                        "description": "The query, path or header parameter, for those",
                    },
                    "location": {"type": "string", "description": "Dotted, as before pointer"},
                    "code": {
                        "type": "string",
                        "description": "The rule broken: required, pattern, enum, minimum...",
                    },
                    "message": {"type": "string", "description": "Names the field by its title"},
                },
            },
        },
    },
    "additionalProperties": True,
    "examples": [
        {
            "type": "urn:baikonur-portal:problem:form-invalid",
            "title": "Form data does not match the service's form",
            "status": 422,
            "detail": "1 field(s) of the form are not valid: "
            "Applicant's IIN does not match the pattern ^[0-9]{12}$",
            "code": "form-invalid",
            "errors": [
                {
                    "pointer": "/form_data/applicant_iin",
                    "location": "form_data.applicant_iin",
                    "code": "pattern",
                    "message": "Applicant's IIN does not match the pattern ^[0-9]{12}$",
                }
            ],
        }
    ],
}

BEARER = "bearer"
# A confidential client's credentials in HTTP Basic (RFC 6749 2.3.1), at identity's token,
# revocation and introspection endpoints.
CLIENT_BASIC = "clientBasic"

Access = Literal["required", "optional", "none"]


def security_schemes(issuer: str) -> dict[str, Any]:
    """The OAuth2 flows identity offers, with their endpoints under `issuer`, the plain
    bearer scheme for a client that already holds an access token, and HTTP Basic for a
    client authenticating itself to the token-side endpoints."""
    issuer = issuer.rstrip("/")
    return {
        OAUTH2: {
            "type": "oauth2",
            "description": (
                "Access tokens from the portal's identity service (OpenID Connect discovery at"
                f" {issuer}/.well-known/openid-configuration). The authorization code flow"
                " requires PKCE with S256 for every client, public or confidential; agency"
                " systems use client credentials. Refresh tokens rotate on every use."
            ),
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": f"{issuer}/authorize",
                    "tokenUrl": f"{issuer}/token",
                    "refreshUrl": f"{issuer}/token",
                    "scopes": dict(SCOPES),
                },
                "clientCredentials": {"tokenUrl": f"{issuer}/token", "scopes": dict(SCOPES)},
            },
        },
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token (RFC 9068 JWT, audience portal-api)",
        },
        CLIENT_BASIC: {
            "type": "http",
            "scheme": "basic",
            "description": (
                "A confidential client's client_id and client_secret as the user name and"
                " password, each form-urlencoded first (RFC 6749 2.3.1: client_secret_basic)."
                " The same endpoints also take them in the form body (client_secret_post),"
                " and a public client sends only its client_id there."
            ),
        },
    }


def unique_titles(schemas: dict[str, Any]) -> None:
    """Give every schema whose `title` another schema shares its own name as title.

    pydantic titles a model's input and output schemas (`Fee-Input`, `Fee-Output`) alike,
    and client generators name their types by title, so two types would get one name.
    """
    holders: dict[str, list[str]] = {}
    for name, schema in schemas.items():
        if isinstance(schema, dict) and isinstance(schema.get("title"), str):
            holders.setdefault(schema["title"], []).append(name)
    for names in holders.values():
        if len(names) > 1:
            for name in names:
                schemas[name]["title"] = re.sub(r"[^A-Za-z0-9]", "", name)


def camel_case(name: str) -> str:
    head, *rest = [part for part in re.split(r"[_\W]+", name) if part]
    return head[:1].lower() + head[1:] + "".join(p[:1].upper() + p[1:] for p in rest)


class RouteLike(Protocol):
    """An API route as FastAPI documents it (an APIRoute or its context in an included
    router)."""

    @property
    def name(self) -> str: ...
    @property
    def dependant(self) -> Dependant: ...
    @property
    def openapi_extra(self) -> dict[str, Any] | None: ...


def operation_id(route: APIRoute) -> str:
    """FastAPI's `generate_unique_id_function`: the handler's name in camelCase."""
    return camel_case(route.name)


def access(route: RouteLike) -> Access:
    """Whether the route needs a token, takes one if given, or never looks at one."""
    calls = set(dependency_calls(route.dependant))
    if auth._principal in calls:
        return "required"
    if auth._optional_principal in calls:
        return "optional"
    return "none"


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": problem_content()}


def document_operation(operation: dict[str, Any], route: RouteLike | None) -> None:
    """Security, the token statuses and problem bodies for one operation of a service."""
    if "operationId" in operation:
        operation["operationId"] = camel_case(operation["operationId"])
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if route is not None:
        how = access(route)
        scopes = list((route.openapi_extra or {}).get(SCOPES_KEY, []))
        operation.pop(SCOPES_KEY, None)
        operation.pop(OPTIONAL_KEY, None)
        if how != "none":
            operation["security"] = [{OAUTH2: scopes}, {BEARER: []}]
            if how == "optional":
                operation["security"].append({})
            responses.setdefault("401", _problem("The access token is missing, invalid or expired"))
            responses.setdefault("403", _problem("The token does not allow this"))
    for status, response in responses.items():
        if status[:1] in ("4", "5") and not response.get("content"):
            response["content"] = problem_content()
    # A repeat of a write with the same Idempotency-Key and body is answered as the first
    # was, but 200 rather than 201: the client must be ready for both.
    takes_key = any(
        p.get("in") == "header" and str(p.get("name", "")).lower() == "idempotency-key"
        for p in operation.get("parameters", [])
    )
    created = responses.get("201")
    if takes_key and created and "200" not in responses:
        responses["200"] = {
            **created,
            "description": "A replay: the request this Idempotency-Key and body created before",
            "headers": {
                "Idempotent-Replayed": {
                    "description": "Says the answer is a replay",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            },
        }
