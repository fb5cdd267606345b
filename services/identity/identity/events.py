"""What the identity service publishes: its topics, event types and payloads.

`identity.user` tells the other services about accounts; `identity.token` tells every
resource server (and the gateway) which access tokens were revoked before their expiry,
with the payload `portal_shared.revocation` defines, since every verifier reads it.

Every change of an account also leaves, in the same transaction, on `identity.contact`:
the same change with the email address, for the notifications service only (a
deployment restricts who may read it with Kafka ACLs); `identity.user`, which any
service may read, carries no names, IIN, email or phone.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from identity.models import Account
from portal_shared.events import add_event
from portal_shared.revocation import TOKEN_REVOKED, TOKEN_TOPIC, RevokedToken, TokensRevokedData

TOPIC = "identity.user"
TOPICS = (TOPIC, TOKEN_TOPIC)
# Not a contract topic: identity's account changes with what it takes to write to the person.
CONTACT_TOPIC = "identity.contact"
SOURCE = "/identity"

REGISTERED = "registered"
UPDATED = "updated"
DISABLED = "disabled"


def event_type(name: str) -> str:
    """`identity.user.<name>.v1`, the contract's naming of event types."""
    return f"{TOPIC}.{name}.v1"


class UserEventData(BaseModel):
    """The `data` of every identity.user event: never names, IIN, email or phone."""

    id: uuid.UUID
    roles: list[str]
    agency_id: uuid.UUID | None
    status: str
    # Consumers apply an event only if its version is newer than their copy's.
    version: int


class ContactEventData(UserEventData):
    """The `data` of every identity.contact event: the account, and where to email it."""

    email: str | None


EVENTS: dict[str, type[BaseModel]] = {
    **{event_type(name): UserEventData for name in (REGISTERED, UPDATED, DISABLED)},
    TOKEN_REVOKED: TokensRevokedData,
}


async def user_event(session: AsyncSession, name: str, account: Account) -> None:
    data = UserEventData(
        id=account.id,
        roles=list(account.roles),
        agency_id=account.agency_id,
        status=account.status,
        version=account.version,
    )
    await add_event(
        session,
        topic=TOPIC,
        key=str(account.id),
        type=event_type(name),
        source=SOURCE,
        data=data.model_dump(mode="json"),
    )
    contact = ContactEventData(**data.model_dump(), email=account.email)
    await add_event(
        session,
        topic=CONTACT_TOPIC,
        key=str(account.id),
        type=f"{CONTACT_TOPIC}.{name}.v1",
        source=SOURCE,
        data=contact.model_dump(mode="json"),
    )


async def tokens_revoked(
    session: AsyncSession,
    *,
    subject: str,
    client_id: str,
    reason: str,
    tokens: list[tuple[str, int]],
) -> None:
    """Tell every resource server that these access tokens (jti, exp) no longer count."""
    if not tokens:
        return
    data = TokensRevokedData(
        sub=subject,
        client_id=client_id,
        reason=reason,
        tokens=[RevokedToken(jti=jti, exp=exp) for jti, exp in tokens],
    )
    await add_event(
        session,
        topic=TOKEN_TOPIC,
        key=subject,
        type=TOKEN_REVOKED,
        source=SOURCE,
        data=data.model_dump(mode="json"),
    )
