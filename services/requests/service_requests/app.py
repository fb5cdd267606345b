"""Assembles the requests service: `create_app()` is the uvicorn factory."""

from __future__ import annotations

from fastapi import FastAPI

from portal_shared.app import ServiceSpec, create_service_app
from service_requests.api import router
from service_requests.calendar import CalendarBook
from service_requests.consumers import CONSUMERS
from service_requests.events import EVENTS, TOPIC
from service_requests.overdue import overdue_worker
from service_requests.settings import RequestsSettings, get_settings


def create_app(settings: RequestsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(
        ServiceSpec(
            name="requests",
            title="Requests",
            description="Residents' applications for state services and their workflow.",
            settings=settings,
            routers=[router],
            produces=[TOPIC],
            consumers=CONSUMERS,
            workers=[overdue_worker],
            events=EVENTS,
        )
    )
    app.state.calendars = CalendarBook.from_settings(settings.calendar_transfers)
    return app
