"""Submitting an application: the busiest write of the portal, in two statements.

Every other use case runs through the ORM session of `portal_shared.db`. This one talks
to asyncpg directly, because the submission benchmark (bench/submissions.py) measured
the ORM path at about 4 ms of CPU per submission, 44% of it in SQLAlchemy, against the
issue's aim of 1,000 submissions/s on two cores. Here a submission is:

1. one read: the service's state, its published version and the agency's time zone;
2. the form check, with a validator built once per published version;
3. one write statement whose data-modifying CTEs claim the Idempotency-Key, take the
   year's next number, and insert the request, its first history entry and its outbox
   event. A single statement is a transaction of its own: all of it lands or none.

A repeated Idempotency-Key claims nothing, so nothing else is written and no number is
taken; the request the key made is then read and returned (or 409 if the body differs).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson

from portal_shared.auth import Principal
from portal_shared.errors import AppError, Forbidden
from portal_shared.events.outbox import event_row, new_event
from portal_shared.tracing import trace_asyncpg
from service_requests import events
from service_requests.calendar import DEFAULT_TIMEZONE, CalendarBook, zone
from service_requests.errors import FormInvalid, IdempotencyKeyReused, ServiceNotAvailable
from service_requests.forms import Validators, check_form
from service_requests.models import ServiceRequest
from service_requests.schemas import RequestCreate, RequestRead
from service_requests.service import actor_of, to_read
from service_requests.workflow import Status

NUMBER_PREFIX = "BKR"

LOOKUP = """
SELECT o.status, o.published_version, v.agency_id, v.term_working_days, a.timezone
FROM offerings o
LEFT JOIN offering_versions v ON v.service_id = o.id AND v.version = o.published_version
LEFT JOIN agencies a ON a.id = v.agency_id
WHERE o.id = $1
"""

FORM_SCHEMA = "SELECT form_schema FROM offering_versions WHERE service_id = $1 AND version = $2"

# $1 request id, $2 Idempotency-Key (or null), $3 body hash, $4 applicant, $5 now,
# $6 number prefix, $7 year, $8 service, $9 version, $10 agency, $11 form data,
# $12 time zone, $13 due date, $14 actor id, $15 actor role, then the outbox row:
# $16 event id, $17 topic, $18 key, $19 type, $20 source, $21 subject, $22 data
# (its "number" filled in here), $23 HTTP request id, $24 traceparent, $25 tracestate.
# The number is taken only when the key was claimed (or none was sent): a replay leaves
# no gap. lpad never truncates here: numbers beyond 999999 keep all their digits.
WRITE = """
WITH claim AS (
    INSERT INTO idempotency_keys (applicant_id, key, body_hash, request_id, created_at)
    SELECT $4, $2::text, $3, $1, $5 WHERE $2::text IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING request_id
), taken AS (
    SELECT request_number($7)::text AS n WHERE $2::text IS NULL OR EXISTS (SELECT FROM claim)
), created AS (
    INSERT INTO requests (id, number, service_id, service_version, agency_id, applicant_id,
        status, form_data, submitted_at, timezone, due_date, version, updated_at)
    SELECT $1, format('%s-%s-%s', $6::text, $7::int, lpad(n, greatest(6, length(n)), '0')),
        $8, $9, $10, $4, 'submitted', $11, $5, $12, $13, 1, $5
    FROM taken
    RETURNING id, number
), history AS (
    INSERT INTO request_history (request_id, action, from_status, to_status, version,
        actor_id, actor_role, at)
    SELECT id, 'submit', NULL, 'submitted', 1, $14, $15, $5 FROM created
), event AS (
    INSERT INTO outbox (event_id, topic, key, type, source, subject, data, request_id,
        traceparent, tracestate, occurred_at)
    SELECT $16, $17, $18, $19, $20, $21, jsonb_set($22::jsonb, '{number}', to_jsonb(number)),
        $23, $24, $25, $5
    FROM created
)
SELECT number FROM created
"""

EARLIER = """
SELECT k.body_hash, r.*
FROM idempotency_keys k JOIN requests r ON r.id = k.request_id
WHERE k.applicant_id = $1 AND k.key = $2
"""


def json_text(value: Any) -> str:
    """JSON for a jsonb parameter, as the ORM path writes it (json.dumps)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        # orjson refuses integers beyond 64 bits, which JSON (and form_data) may hold.
        return json.dumps(value)


class Connections:
    """The asyncpg pool behind submissions, handed out first come, first served.

    asyncpg's pool lets a caller that just arrived take a connection that was just
    released while earlier callers go on waiting (a woken waiter that finds the queue
    empty waits again at the back). Under load that gave some submissions ten to twenty
    times the median latency (p50 10 ms, p99 190 ms with 32 clients on a pool of 10). An
    asyncio.Semaphore serves its waiters in order; with one in front of the pool, the pool
    itself never has waiters."""

    def __init__(self, pool: asyncpg.Pool, size: int) -> None:
        self.pool = pool
        self._turns = asyncio.Semaphore(size)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy]:
        async with self._turns, self.pool.acquire() as connection:
            try:
                yield connection
            except AppError:
                raise  # a refusal decided here; the connection is as good as before
            except BaseException:
                # A statement that failed because the server went away can leave the
                # connection half-way through the protocol without closing it (the soak
                # saw "cannot switch to state 12; another operation (2) is in progress"
                # on the next use after a PostgreSQL restart). The pool skips its reset
                # query (keep_session), which used to catch that; so a connection that
                # saw an unexpected error is dropped and the pool opens a new one. (One
                # the server closed has already gone back to the pool: asyncpg refuses.)
                with contextlib.suppress(asyncpg.InterfaceError):
                    connection.terminate()
                raise

    async def close(self) -> None:
        await self.pool.close()


async def setup_connection(connection: asyncpg.Connection) -> None:
    """Decode jsonb into Python values and encode them from it, as the ORM does."""
    await connection.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=json_text, decoder=orjson.loads
    )
    trace_asyncpg(connection, "requests")  # statement spans, only when tracing is on


async def keep_session(connection: asyncpg.Connection) -> None:
    """Pool reset: these connections set no session state (no SET, LISTEN or advisory
    lock), so the round trip of asyncpg's default RESET ALL... on every release is
    skipped; asyncpg still rolls back a transaction left open."""


def body_hash(body: RequestCreate) -> str:
    data = body.model_dump(mode="json")
    try:
        canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        # A body with an integer beyond 64 bits always takes this path, so its repeats
        # still hash alike.
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


async def _earlier(
    connection: asyncpg.Connection, principal: Principal, applicant_id: UUID, key: str, digest: str
) -> RequestRead | None:
    """The request an earlier use of this key made, or None if the key is unused."""
    row = await connection.fetchrow(EARLIER, applicant_id, key)
    if row is None:
        return None
    if row["body_hash"] != digest:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different submission; "
            "use a new key for a new application"
        )
    fields = dict(row)
    del fields["body_hash"]
    return to_read(ServiceRequest(**fields), principal)


async def submit(
    pool: Connections,
    principal: Principal,
    body: RequestCreate,
    *,
    idempotency_key: str | None,
    calendars: CalendarBook,
    validators: Validators,
) -> tuple[RequestRead, bool]:
    """Submit an application; returns it and whether it was created (False: a replay)."""
    applicant_id = principal.account_id
    if applicant_id is None:
        raise Forbidden("Only a resident's own account can submit a request")
    digest = body_hash(body) if idempotency_key is not None else ""
    async with pool.acquire() as connection:
        try:
            found = await connection.fetchrow(LOOKUP, body.service_id)
            state = "unknown" if found is None else found["status"]
            if found is None or state != "published" or found["published_version"] is None:
                raise ServiceNotAvailable(
                    f"The state service {body.service_id} is {state} here and takes no "
                    "applications",
                    errors=[{"location": "service_id", "message": f"service is {state}"}],
                )
            if found["agency_id"] is None:  # the copy holds every published version
                raise ServiceNotAvailable(
                    f"The state service {body.service_id} has no published version"
                )
            version: int = found["published_version"]
            validator = validators.get((body.service_id, version))
            if validator is None:
                schema = await connection.fetchval(FORM_SCHEMA, body.service_id, version)
                validator = validators.add((body.service_id, version), schema)
            check_form(validator, body.form_data)
        except (ServiceNotAvailable, FormInvalid):
            # A repeat of an accepted submission is answered as it was the first time,
            # even when the service has been withdrawn or its form has changed since.
            if idempotency_key is not None:
                earlier = await _earlier(
                    connection, principal, applicant_id, idempotency_key, digest
                )
                if earlier is not None:
                    return earlier, False
            raise

        timezone: str = found["timezone"] or DEFAULT_TIMEZONE
        now = datetime.now(UTC)
        # What the applicant gets back; its number is the one the write takes. Built
        # unvalidated: every value is this function's own or already validated.
        read = RequestRead.model_construct(
            id=uuid4(),
            number="",
            service_id=body.service_id,
            service_version=version,
            agency_id=found["agency_id"],
            applicant_id=applicant_id,
            status=Status.submitted,
            submitted_at=now,
            due_date=calendars.for_agency(found["agency_id"]).due_date(
                now, found["term_working_days"], timezone
            ),
            version=1,
            updated_at=now,
            overdue=False,
            overdue_at=None,
            reason_code=None,
            result=None,
            form_data=body.form_data,
        )
        key = str(read.id)
        event = event_row(
            events.TOPIC,
            key,
            new_event(
                type=events.event_type("submitted"),
                source=events.SOURCE,
                key=key,
                data=events.event_data(read, previous_status=None, occurred_at=now),
            ),
        )
        actor_id, role = actor_of(principal)
        number = await connection.fetchval(
            WRITE,
            read.id,
            idempotency_key,
            digest,
            applicant_id,
            now,
            NUMBER_PREFIX,
            now.astimezone(zone(timezone)).year,
            read.service_id,
            version,
            read.agency_id,
            body.form_data,
            timezone,
            read.due_date,
            actor_id,
            role,
            event["event_id"],
            event["topic"],
            event["key"],
            event["type"],
            event["source"],
            event["subject"],
            event["data"],
            event["request_id"],
            event["traceparent"],
            event["tracestate"],
        )
        if number is None:
            # The key was claimed first by another submission (perhaps one still being
            # written: the claim waited for it to commit).
            earlier = await _earlier(
                connection, principal, applicant_id, str(idempotency_key), digest
            )
            if earlier is None:  # the other submission rolled back; the resident retries
                raise IdempotencyKeyReused(
                    "A submission with this Idempotency-Key was being made at the same "
                    "time and did not complete; send it again"
                )
            return earlier, False
    read.number = number
    return read, True
