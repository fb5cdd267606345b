"""What the notifications service consumes, each in its own consumer group.

- `identity.contact`: the local copy of accounts (roles, agency, status, email address),
  applied only if newer than the copy. It is identity's `identity.user` stream with the
  email address added, on a topic of its own, so that `identity.user`, which every
  service may read, carries no contact details. An account's arrival releases the emails
  held for it, had its request events come first (`held`).
- `catalog.service`: each published version's name and refusal grounds.
- `requests.request`: the events a resident is told about become inbox messages and,
  with their consent, emails; an overdue request is also told to the responsible
  agency's officers. The consumer records each event's `ce_id` in the same
  transaction, so a redelivered or replayed event adds nothing; a fetched batch is applied
  in one transaction (one commit per batch is what lets emails go out within a second).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from email.utils import parseaddr

from sqlalchemy.ext.asyncio import AsyncSession

from notifications import service
from notifications.messages import RESIDENT_EVENTS
from notifications.settings import NotificationsSettings
from portal_shared.app import ConsumerSpec
from portal_shared.events import BatchHandler, CloudEvent, Handler

USER_TOPIC = "identity.contact"
SERVICE_TOPIC = "catalog.service"
REQUEST_TOPIC = "requests.request"


def _user_handler(kind: str, settings: NotificationsSettings) -> Handler:
    hold_for = timedelta(seconds=settings.email_hold_seconds)

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await service.apply_user(
            session, event.data, disabled=kind == "disabled", hold_for=hold_for
        )

    handle.__name__ = f"on_user_{kind}"
    return handle


async def _on_state_service(session: AsyncSession, event: CloudEvent) -> None:
    await service.apply_state_service(session, event.data)


def mail_domain(settings: NotificationsSettings) -> str:
    """The domain of the sender address, under which Message-IDs are made."""
    address = parseaddr(settings.email_from)[1]
    return address.rpartition("@")[2] or "localhost"


def _request_handler(settings: NotificationsSettings) -> BatchHandler:
    domain = mail_domain(settings)
    hold_for = timedelta(seconds=settings.email_hold_seconds)

    async def handle(session: AsyncSession, events: Sequence[CloudEvent]) -> None:
        named = [(event, message_name(event.type)) for event in events]
        await service.notify_applicants(
            session, named, public_url=settings.public_url, mail_domain=domain, hold_for=hold_for
        )
        for event, name in named:
            if name == "overdue":
                await service.notify_officers(
                    session, event, public_url=settings.public_url, mail_domain=domain
                )

    return handle


def message_name(event_type: str) -> str:
    """`requests.request.<name>.v1` -> `<name>`, the message it is told as."""
    return event_type.removeprefix(f"{REQUEST_TOPIC}.").rpartition(".")[0]


def _one(handler: BatchHandler) -> Handler:
    """The per-event form of a batch handler (what the consumer falls back to)."""

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await handler(session, [event])

    return handle


def consumers(
    settings: NotificationsSettings, on_applied: Callable[[], None] | None = None
) -> list[ConsumerSpec]:
    """The service's consumers; `on_applied` is called after request or account events are
    committed (the emails they recorded or released are due: it wakes the sender)."""
    on_request = _request_handler(settings)
    return [
        ConsumerSpec(
            group_id=f"notifications.{USER_TOPIC}",
            topics=[USER_TOPIC],
            handlers={
                f"{USER_TOPIC}.{kind}.v1": _user_handler(kind, settings)
                for kind in ("registered", "updated", "disabled")
            },
            on_applied=on_applied,
        ),
        ConsumerSpec(
            group_id=f"notifications.{SERVICE_TOPIC}",
            topics=[SERVICE_TOPIC],
            # A withdrawn service's texts are still what its old requests quote.
            handlers={
                f"{SERVICE_TOPIC}.{kind}.v1": _on_state_service for kind in ("published", "updated")
            },
        ),
        ConsumerSpec(
            group_id=f"notifications.{REQUEST_TOPIC}",
            topics=[REQUEST_TOPIC],
            handlers={f"{REQUEST_TOPIC}.{name}.v1": _one(on_request) for name in RESIDENT_EVENTS},
            # A batch of events in one transaction: one commit for all, not one each.
            batch_handler=on_request,
            on_applied=on_applied,
        ),
    ]
