"""Assembles the catalog service: `create_app()` is the uvicorn factory."""

from __future__ import annotations

from fastapi import FastAPI

from catalog.events import TOPIC
from catalog.settings import CatalogSettings, get_settings
from portal_shared.app import ServiceSpec, create_service_app


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        ServiceSpec(
            name="catalog",
            title="Catalog",
            description="Catalog of the Baikonur state-services portal.",
            settings=settings,
            routers=[],
            produces=[TOPIC],
            consumers=[],
        )
    )
