"""Annotated dependencies of the requests handlers: what the app holds, so that no handler
reads `app.state` itself.

They are `async def` although they never wait: FastAPI runs a plain `def` dependency in
a worker thread, a hop that the submission path (benchmarked) would pay three times."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from portal_shared.db import SessionDep
from portal_shared.paging import CursorsDep
from service_requests.calendar import CalendarBook
from service_requests.forms import Validators
from service_requests.submission import Connections

__all__ = ["CalendarsDep", "ConnectionsDep", "CursorsDep", "SessionDep", "ValidatorsDep"]


async def _connections(request: Request) -> Connections:
    connections: Connections = request.app.state.pool
    return connections


async def _calendars(request: Request) -> CalendarBook:
    calendars: CalendarBook = request.app.state.calendars
    return calendars


async def _validators(request: Request) -> Validators:
    validators: Validators = request.app.state.validators
    return validators


# The asyncpg pool behind submissions (submission.py).
ConnectionsDep = Annotated[Connections, Depends(_connections)]
CalendarsDep = Annotated[CalendarBook, Depends(_calendars)]
# Validators of published form schemas, kept for the process's life.
ValidatorsDep = Annotated[Validators, Depends(_validators)]
