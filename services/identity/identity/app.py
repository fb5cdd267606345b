"""Assembles the identity service: `create_app()` is the uvicorn factory."""

from __future__ import annotations

from fastapi import FastAPI

from identity.events import TOPIC
from identity.settings import IdentitySettings, get_settings
from portal_shared.app import ServiceSpec, create_service_app


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        ServiceSpec(
            name="identity",
            title="Identity",
            description="Identity of the Baikonur state-services portal.",
            settings=settings,
            routers=[],
            produces=[TOPIC],
            consumers=[],
        )
    )
