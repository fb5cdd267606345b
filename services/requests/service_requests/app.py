"""Assembles the requests service: `create_app()` is the uvicorn factory."""

from __future__ import annotations

from contextlib import AsyncExitStack

import asyncpg
import structlog
from fastapi import FastAPI

from portal_shared.app import ServiceSpec, create_service_app
from portal_shared.db import asyncpg_dsn
from service_requests import submission
from service_requests.api import router
from service_requests.calendar import CalendarBook
from service_requests.consumers import CONSUMERS
from service_requests.documents.backends import open_store
from service_requests.documents.scanning import ClamdScanner
from service_requests.documents_api import request_documents_router
from service_requests.documents_api import router as documents_router
from service_requests.documents_cleanup import documents_cleanup_worker
from service_requests.documents_service import Documents
from service_requests.events import EVENTS, TOPIC
from service_requests.forms import Validators
from service_requests.overdue import overdue_worker
from service_requests.settings import RequestsSettings, get_settings

log = structlog.get_logger(__name__)


def create_app(settings: RequestsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    resources = AsyncExitStack()

    async def open_documents(app: FastAPI) -> None:
        store = await resources.enter_async_context(open_store(settings, app.state.engine))
        scanner = (
            ClamdScanner(settings.clamd_url, timeout=settings.clamd_timeout_seconds)
            if settings.clamd_url
            else None
        )
        if scanner is None:
            log.warning("documents_not_scanned", reason="CLAMD_URL is not set")
        app.state.documents = Documents(store, scanner, settings)

    async def close_documents(app: FastAPI) -> None:
        await resources.aclose()

    async def open_pool(app: FastAPI) -> None:
        # Submissions use asyncpg directly (see submission.py); no connection is opened
        # until the first one, so the service starts while the database is still away.
        pool = await asyncpg.create_pool(
            asyncpg_dsn(settings.database_url),
            min_size=0,
            max_size=settings.database_pool_size,
            init=submission.setup_connection,
            reset=submission.keep_session,
        )
        app.state.pool = submission.Connections(pool, settings.database_pool_size)

    async def close_pool(app: FastAPI) -> None:
        await app.state.pool.close()

    app = create_service_app(
        ServiceSpec(
            name="requests",
            title="Requests",
            description="Residents' applications for state services and their workflow.",
            settings=settings,
            routers=[router, request_documents_router, documents_router],
            produces=[TOPIC],
            consumers=CONSUMERS,
            workers=[overdue_worker, documents_cleanup_worker],
            events=EVENTS,
            on_startup=[open_pool, open_documents],
            on_shutdown=[close_pool, close_documents],
        )
    )
    app.state.calendars = CalendarBook.from_settings(settings.calendar_transfers)
    app.state.validators = Validators()
    return app
