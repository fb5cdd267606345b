"""Assembles the requests service: `create_app()` is the uvicorn factory."""

from __future__ import annotations

from fastapi import FastAPI

from portal_shared.app import ServiceSpec, create_service_app
from service_requests.events import TOPIC
from service_requests.settings import RequestsSettings, get_settings


def create_app(settings: RequestsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        ServiceSpec(
            name="requests",
            title="Requests",
            description="Requests of the Baikonur state-services portal.",
            settings=settings,
            routers=[],
            produces=[TOPIC],
            consumers=[],
        )
    )
