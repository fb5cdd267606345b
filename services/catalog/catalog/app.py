"""Assembles the catalog service: `create_app()` is the uvicorn factory."""

from __future__ import annotations

from fastapi import FastAPI

from catalog.api import router
from catalog.consumers import AGENCY_CONSUMER
from catalog.events import EVENTS, TOPIC
from catalog.openapi import document_languages
from catalog.settings import CatalogSettings, get_settings
from portal_shared.app import ServiceSpec, create_service_app


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(
        ServiceSpec(
            name="catalog",
            title="Catalog",
            description="State services of Baikonur and their standards: versions, "
            "form schemas, fees, terms and refusal grounds.",
            settings=settings,
            routers=[router],
            produces=[TOPIC],
            consumers=[AGENCY_CONSUMER],
            tags=[{"name": "services", "description": "State services and their standards"}],
            events=EVENTS,
        )
    )
    document_languages(app)
    return app
