"""Request and response bodies of the identity API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from portal_shared.scopes import SCOPES
from portal_shared.text import SINGLE_LINE, STORABLE
from portal_shared.validation import invalid

# Free text is checked by portal_shared.text (no control characters in a name, nothing
# PostgreSQL cannot store in a password); patterned strings admit no such character anyway.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SINGLE_LINE
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+7\d{10}$")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256), STORABLE]
Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z][a-z0-9._-]{2,63}$"),
]
StaffRole = Literal["officer", "admin"]
Status = Literal["active", "disabled"]
GrantType = Literal["authorization_code", "refresh_token", "client_credentials"]


def _known_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise invalid("unknown-scope", scopes=", ".join(SCOPES))
    return scope


# A client may only be registered with scopes some operation or OIDC knows
# (portal_shared.scopes): an unknown one would be granted and mean nothing.
Scope = Annotated[
    str, AfterValidator(_known_scope), Field(json_schema_extra={"enum": list(SCOPES)})
]
ClientIdStr = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]
Uri = Annotated[str, StringConstraints(min_length=8, max_length=2000), SINGLE_LINE]


class ResidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iin: Annotated[str, StringConstraints(strip_whitespace=True, max_length=12), SINGLE_LINE] = (
        Field(
            description="12-digit IIN; birth date, century/sex digit and check digit are verified"
        )
    )
    given_name: Name
    family_name: Name
    email: EmailStr
    phone: Phone = Field(description="+7 followed by 10 digits")
    password: Password


class UserCreate(BaseModel):
    """An officer or administrator, created by an administrator."""

    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    given_name: Name
    family_name: Name
    email: EmailStr
    phone: Phone | None = None
    roles: list[StaffRole] = Field(min_length=1, max_length=2)
    agency_id: uuid.UUID | None = Field(default=None, description="required for officers")


class UserUpdate(BaseModel):
    """Fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    given_name: Name | None = None
    family_name: Name | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    roles: list[StaffRole] | None = Field(default=None, min_length=1, max_length=2)
    agency_id: uuid.UUID | None = None
    status: Status | None = None
    password: Password | None = None


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str | None
    iin: str | None
    email: str | None
    phone: str | None
    given_name: str
    family_name: str
    roles: list[str]
    agency_id: uuid.UUID | None
    status: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class AccountPage(BaseModel):
    items: list[AccountRead]
    next_cursor: str | None


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: ClientIdStr
    name: Name
    client_type: Literal["public", "confidential"]
    redirect_uris: list[Uri] = Field(default_factory=list, max_length=20)
    post_logout_redirect_uris: list[Uri] = Field(default_factory=list, max_length=20)
    grant_types: list[GrantType] = Field(min_length=1, max_length=3)
    scopes: list[Scope] = Field(default_factory=list, max_length=50)
    agency_id: uuid.UUID | None = None
    introspection: bool = Field(
        default=False,
        description=(
            "A resource server: may introspect any access token (RFC 7662). Other clients"
            " learn only about their own tokens; for anyone else's the answer is inactive."
        ),
    )


class ClientRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: str
    name: str
    client_type: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    grant_types: list[str]
    scopes: list[str]
    agency_id: uuid.UUID | None
    introspection: bool
    status: str
    created_at: dt.datetime
    secret_rotated_at: dt.datetime | None


class ClientWithSecret(ClientRead):
    """Returned once, when a confidential client is registered or its secret rotated."""

    client_secret: str | None


class ClientPage(BaseModel):
    items: list[ClientRead]
    next_cursor: str | None


class KeyRotated(BaseModel):
    kid: str


# The OAuth endpoints build their answers with authlib; these models only document them
# (each route's `responses`), so that client generators type the success bodies.


class TokenResponse(BaseModel):
    """A successful token response (RFC 6749 5.1; `id_token` from OpenID Connect Core 3.1.3.3)."""

    access_token: str = Field(description="An RFC 9068 JWT access token (audience portal-api)")
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds the access token is valid for")
    scope: str = Field(description="The granted scopes, space-separated")
    refresh_token: str | None = Field(
        default=None, description="With offline_access, for a person: rotates on every use"
    )
    id_token: str | None = Field(
        default=None, description="With the openid scope, in the authorization code flow"
    )


class JsonWebKey(BaseModel):
    """A public RSA signing key (RFC 7517 4, RFC 7518 6.3.1)."""

    model_config = ConfigDict(extra="allow")

    kty: Literal["RSA"]
    kid: str
    use: Literal["sig"]
    alg: Literal["RS256"]
    n: str = Field(description="The modulus, base64url")
    e: str = Field(description="The exponent, base64url")
    key_ops: list[str] | None = None


class JsonWebKeySet(BaseModel):
    """The signing keys (RFC 7517 5): the current one first, then the previous one."""

    keys: list[JsonWebKey]


class IntrospectionResponse(BaseModel):
    """What introspection says about a token (RFC 7662 2.2): only `active` when it is not
    active, or when the asking client may not know about it."""

    active: bool
    token_type: Literal["access_token", "refresh_token"] | None = None
    scope: str | None = None
    client_id: str | None = None
    sub: str | None = None
    exp: int | None = None
    iat: int | None = None
    iss: str | None = None
    aud: str | list[str] | None = None
    jti: str | None = None
    roles: list[str] | None = None
    agency_id: uuid.UUID | None = None


class TokenRevoked(BaseModel):
    """Revocation's answer (RFC 7009 2.2): an empty object, whether or not the token was
    known (the client learns nothing about a token it does not hold)."""

    model_config = ConfigDict(extra="forbid")
