"""Assembles the directory service: `create_app()` is the uvicorn factory."""

from __future__ import annotations

from fastapi import FastAPI

from directory.events import TOPIC
from directory.settings import DirectorySettings, get_settings
from portal_shared.app import ServiceSpec, create_service_app


def create_app(settings: DirectorySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        ServiceSpec(
            name="directory",
            title="Directory",
            description="Directory of the Baikonur state-services portal.",
            settings=settings,
            routers=[],
            produces=[TOPIC],
            consumers=[],
        )
    )
