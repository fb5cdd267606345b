"""Assembles the notifications service: `create_app()` is the uvicorn factory."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from notifications.api import router
from notifications.consumers import consumers
from notifications.mailer import sender
from notifications.settings import NotificationsSettings, get_settings
from notifications.webhooks import delivery as webhooks
from notifications.webhooks.api import router as webhooks_router
from portal_shared.app import ServiceSpec, create_service_app


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Set by the request consumer after it commits emails; wakes the sender.
    emails_due = asyncio.Event()
    # Set by the webhooks' consumer after it commits deliveries; wakes the delivery worker.
    deliveries_due = asyncio.Event()
    return create_service_app(
        ServiceSpec(
            name="notifications",
            title="Notifications",
            description="Residents' inbox and email about their applications, in their "
            "language; each message sent once.",
            settings=settings,
            routers=[router, webhooks_router],
            consumers=[
                *consumers(settings, on_applied=emails_due.set),
                webhooks.consumer(deliveries_due.set),
            ],
            workers=[
                sender(emails_due),
                webhooks.sender(deliveries_due),
            ]
            if settings.run_sender
            else [],
            tags=[
                {"name": "notifications", "description": "The inbox and its preferences"},
                {"name": "webhooks", "description": "Agency systems' event subscriptions"},
            ],
        )
    )
