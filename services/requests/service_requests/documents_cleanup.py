"""The periodic removal of abandoned uploads and documents never attached to a request
(`documents.lifecycle.remove_stale`), run as a background worker of the service process.

Every replica runs it; the rows it takes are locked with SKIP LOCKED, so two replicas
never remove the same one, and deleting bytes that are already gone is not an error.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from portal_shared.app import periodic
from service_requests.documents.lifecycle import remove_stale
from service_requests.documents_service import Documents

# Hourly is ample for a 24-hour limit; an abandoned upload is not waited on for longer
# than its grace (lifecycle.UPLOAD_GRACE) plus this.
CLEANUP_INTERVAL_SECONDS = 3600.0


async def clean_up(app: FastAPI) -> int:
    documents: Documents = app.state.documents
    return await remove_stale(
        app.state.engine,
        documents.store,
        now=datetime.now(UTC),
        unattached_ttl=timedelta(hours=documents.settings.documents_unattached_ttl_hours),
    )


async def _round(app: FastAPI) -> None:
    await clean_up(app)


documents_cleanup_worker = periodic(
    "documents_cleanup", _round, lambda app: CLEANUP_INTERVAL_SECONDS
)
