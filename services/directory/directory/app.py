"""Assembles the directory service: `create_app()` is the uvicorn factory."""

from __future__ import annotations

from fastapi import FastAPI

from directory.api import __doc__ as api_doc
from directory.api import router
from directory.events import EVENTS, TOPIC
from directory.settings import DirectorySettings, get_settings
from portal_shared.app import ServiceSpec, create_service_app


def create_app(settings: DirectorySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        ServiceSpec(
            name="directory",
            title="Directory",
            description=(
                "The register of the state agencies, their subdivisions and public service"
                " centres of the Baikonur state-services portal. " + (api_doc or "")
            ),
            settings=settings,
            routers=[router],
            produces=[TOPIC],
            consumers=[],
            events=EVENTS,
            tags=[{"name": "agencies", "description": "State agencies and their hierarchy"}],
        )
    )
