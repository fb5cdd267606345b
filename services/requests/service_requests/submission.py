"""Submitting an application: the busiest write of the portal, in two statements.

Every other use case runs through the ORM session of `portal_shared.db`. This one talks
to asyncpg directly, because the submission benchmark (bench/submissions.py) measured
the ORM path at about 4 ms of CPU per submission, 44% of it in SQLAlchemy, against the
issue's aim of 1,000 submissions/s on two cores. `submit` takes four steps:

1. look up: one read of the service's state, its published version and the agency's
   time zone (`_look_up`), then the form check, with a validator built once per
   published version (`_check_form`);
2. decide: everything the write stores, the due date and the outbox event included
   (`_new_request`);
3. write: one statement whose data-modifying CTEs claim the Idempotency-Key, take the
   year's next number, and insert the request, its first history entry and its outbox
   event, returning the stored request (`_write`). A single statement is a transaction
   of its own: all of it lands or none;
   With documents (or a version that requires some), their rows are checked first
   (`attachments.check`) and the write runs in a transaction with the UPDATE that
   attaches them, so the request and its documents land together; a submission without
   documents keeps the single statement;
4. answer: the RequestRead built from the row the write returned (`reads.request_read`),
   exactly as a replay or a later read builds it from the same row.

A repeated Idempotency-Key claims nothing, so nothing else is written and no number is
taken; the request the key made is then read and returned (or 409 if the body differs).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson

from portal_shared.auth import Principal
from portal_shared.errors import AppError, Forbidden
from portal_shared.events.outbox import EVENT_COLUMNS, event_values, new_event
from portal_shared.i18n import Message
from portal_shared.tracing import trace_asyncpg
from service_requests import attachments, events
from service_requests.access import actor_of
from service_requests.attachments import DocumentsInvalid
from service_requests.calendar import DEFAULT_TIMEZONE, CalendarBook, zone
from service_requests.errors import FormInvalid, IdempotencyKeyReused, ServiceNotAvailable
from service_requests.forms import Validators, check_form
from service_requests.reads import request_read
from service_requests.schemas import RequestCreate, RequestRead
from service_requests.workflow import Status

NUMBER_PREFIX = "BKR"

LOOKUP = """
SELECT o.status, o.published_version, v.agency_id, v.term_working_days, a.timezone,
    v.required_documents
FROM offerings o
LEFT JOIN offering_versions v ON v.service_id = o.id AND v.version = o.published_version
LEFT JOIN agencies a ON a.id = v.agency_id
WHERE o.id = $1
"""

FORM_SCHEMA = "SELECT form_schema FROM offering_versions WHERE service_id = $1 AND version = $2"

# $1 request id, $2 Idempotency-Key (or null), $3 body hash, $4 applicant, $5 now,
# $6 number prefix, $7 year, $8 service, $9 version, $10 agency, $11 form data,
# $12 time zone, $13 due date, $14 actor id, $15 actor role, then the outbox row's
# values from $16 in EVENT_COLUMNS order (its data's "number" filled in here).
# The number is taken only when the key was claimed (or none was sent): a replay leaves
# no gap. lpad never truncates here: numbers beyond 999999 keep all their digits.
_FIRST_EVENT_PARAMETER = 16


def _event_insert(first: int) -> str:
    """The outbox INSERT of the write, over every column the outbox module lists."""
    values = [
        f"jsonb_set(${n}::jsonb, '{{number}}', to_jsonb(number))" if column == "data" else f"${n}"
        for n, column in enumerate(EVENT_COLUMNS, start=first)
    ]
    # No input in the text: the columns are the outbox module's constants.
    columns = ", ".join(EVENT_COLUMNS)
    return f"INSERT INTO outbox ({columns}) SELECT {', '.join(values)} FROM created"  # noqa: S608


WRITE = f"""
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
    RETURNING *
), history AS (
    INSERT INTO request_history (request_id, action, from_status, to_status, version,
        actor_id, actor_role, at)
    SELECT id, 'submit', NULL, 'submitted', 1, $14, $15, $5 FROM created
), event AS (
    {_event_insert(_FIRST_EVENT_PARAMETER)}
)
SELECT * FROM created
"""  # noqa: S608

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
    """Encode jsonb as the ORM does, and decode it as the ORM does: with json.loads, which
    keeps every integer exact. (orjson turns one past 64 bits into a float and refuses one
    past the float range, so a replay answered differently from the first answer, or 500.)
    """
    await connection.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=json_text, decoder=json.loads
    )
    trace_asyncpg(connection, "requests")  # statement spans, only when tracing is on


async def keep_session(connection: asyncpg.Connection) -> None:
    """Pool reset: these connections set no session state (no SET, LISTEN or advisory
    lock), so the round trip of asyncpg's default RESET ALL... on every release is
    skipped; asyncpg still rolls back a transaction left open."""


def body_hash(body: RequestCreate) -> str:
    # Without documents, the hash is what it was before documents existed.
    data = body.model_dump(mode="json", exclude=None if body.documents else {"documents"})
    try:
        canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        # A body with an integer beyond 64 bits always takes this path, so its repeats
        # still hash alike.
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True)
class Published:
    """The published version a submission pins, as the look-up found it."""

    service_id: UUID
    version: int
    agency_id: UUID
    term_working_days: int
    timezone: str
    # The version's required_documents (code and rules), as stored.
    required_documents: list[dict[str, Any]]


@dataclass(frozen=True)
class NewRequest:
    """Everything the write stores, decided before it runs (the number excepted)."""

    id: UUID
    applicant_id: UUID
    service_id: UUID
    service_version: int
    agency_id: UUID
    form_data: dict[str, Any]
    submitted_at: datetime
    timezone: str
    due_date: date
    number: str = ""  # the write takes it; the event's copy is filled in there
    status: Status = Status.submitted
    version: int = 1
    reason_code: str | None = None  # a new request has no refusal ground


async def _look_up(connection: asyncpg.Connection, service_id: UUID) -> Published:
    """The service's published version, or ServiceNotAvailable."""
    found = await connection.fetchrow(LOOKUP, service_id)
    state = "unknown" if found is None else found["status"]
    if found is None or state != "published" or found["published_version"] is None:
        raise ServiceNotAvailable(
            message_key="error.service-not-taking",
            params={"id": service_id, "state": state},
            errors=[
                {
                    "location": "service_id",
                    "message": Message("validation.service-state", {"state": state}),
                }
            ],
        )
    if found["agency_id"] is None:  # the copy holds every published version
        raise ServiceNotAvailable(
            message_key="error.service-unpublished", params={"id": service_id}
        )
    return Published(
        service_id=service_id,
        version=found["published_version"],
        agency_id=found["agency_id"],
        term_working_days=found["term_working_days"],
        timezone=found["timezone"] or DEFAULT_TIMEZONE,
        required_documents=found["required_documents"] or [],
    )


async def _check_documents(
    connection: asyncpg.Connection, published: Published, body: RequestCreate, owner_id: UUID
) -> bool:
    """Check the documents against the version's rules; whether there are any to attach."""
    if not body.documents and all(d.get("optional") for d in published.required_documents):
        return False
    rows = await connection.fetch(attachments.CANDIDATES, [d.document_id for d in body.documents])
    found = {row["id"]: attachments.Candidate.of(row) for row in rows}
    attachments.check(
        attachments.kinds_of(published.required_documents),
        body.documents,
        found,
        owner_id=owner_id,
    )
    return bool(body.documents)


async def _attach(connection: asyncpg.Connection, new: NewRequest, body: RequestCreate) -> None:
    """Attach the checked documents to the request just written, in its transaction."""
    ids = [d.document_id for d in body.documents]
    attached = await connection.fetch(
        attachments.ATTACH, new.id, new.applicant_id, ids, [d.code for d in body.documents]
    )
    if len(attached) != len(ids):
        # Another submission took one of them after the check (the UPDATE waited for it).
        raise DocumentsInvalid(
            message_key="error.document-taken-nothing-submitted",
            errors=[{"location": "documents", "message": Message("validation.document-attached")}],
        )


async def _check_form(
    connection: asyncpg.Connection,
    published: Published,
    form_data: dict[str, Any],
    validators: Validators,
) -> None:
    key = (published.service_id, published.version)
    validator = validators.get(key)
    if validator is None:
        schema = await connection.fetchval(FORM_SCHEMA, *key)
        validator = validators.add(key, schema)
    check_form(validator, form_data)


def _new_request(
    published: Published, applicant_id: UUID, form_data: dict[str, Any], calendars: CalendarBook
) -> NewRequest:
    now = datetime.now(UTC)
    calendar = calendars.for_agency(published.agency_id)
    return NewRequest(
        id=uuid4(),
        applicant_id=applicant_id,
        service_id=published.service_id,
        service_version=published.version,
        agency_id=published.agency_id,
        form_data=form_data,
        submitted_at=now,
        timezone=published.timezone,
        due_date=calendar.due_date(now, published.term_working_days, published.timezone),
    )


async def _write(
    connection: asyncpg.Connection,
    new: NewRequest,
    principal: Principal,
    idempotency_key: str | None,
    digest: str,
) -> asyncpg.Record | None:
    """Store the request, its history entry and its event; the stored row, or None when
    the key was already claimed (nothing is written then)."""
    key = str(new.id)
    event = new_event(
        type=events.event_type("submitted"),
        source=events.SOURCE,
        key=key,
        data=events.event_data(new, previous_status=None, occurred_at=new.submitted_at),
    )
    now = new.submitted_at
    row: asyncpg.Record | None = await connection.fetchrow(
        WRITE,
        new.id,
        idempotency_key,
        digest,
        new.applicant_id,
        now,
        NUMBER_PREFIX,
        now.astimezone(zone(new.timezone)).year,
        new.service_id,
        new.service_version,
        new.agency_id,
        new.form_data,
        new.timezone,
        new.due_date,
        *actor_of(principal),
        *event_values(events.TOPIC, key, event),
    )
    return row


async def _earlier(
    connection: asyncpg.Connection, principal: Principal, applicant_id: UUID, key: str, digest: str
) -> RequestRead | None:
    """The request an earlier use of this key made, or None if the key is unused."""
    row = await connection.fetchrow(EARLIER, applicant_id, key)
    if row is None:
        return None
    if row["body_hash"] != digest:
        raise IdempotencyKeyReused(message_key="error.idempotency-key-reused")
    return request_read(row, principal)


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
        raise Forbidden(message_key="error.submit-needs-resident")
    digest = body_hash(body) if idempotency_key is not None else ""
    async with pool.acquire() as connection:
        try:
            published = await _look_up(connection, body.service_id)
            await _check_form(connection, published, body.form_data, validators)
            with_documents = await _check_documents(connection, published, body, applicant_id)
        except (ServiceNotAvailable, FormInvalid, DocumentsInvalid):
            # A repeat of an accepted submission is answered as it was the first time,
            # even when the service has been withdrawn or its form has changed since.
            if idempotency_key is not None:
                earlier = await _earlier(
                    connection, principal, applicant_id, idempotency_key, digest
                )
                if earlier is not None:
                    return earlier, False
            raise
        new = _new_request(published, applicant_id, body.form_data, calendars)
        if with_documents:
            async with connection.transaction():
                row = await _write(connection, new, principal, idempotency_key, digest)
                if row is not None:
                    await _attach(connection, new, body)
        else:
            row = await _write(connection, new, principal, idempotency_key, digest)
        if row is None:
            # The key was claimed first by another submission (perhaps one still being
            # written: the claim waited for it to commit).
            earlier = await _earlier(
                connection, principal, applicant_id, str(idempotency_key), digest
            )
            if earlier is None:  # the other submission rolled back; the resident retries
                raise IdempotencyKeyReused(message_key="error.idempotency-key-unfinished")
            return earlier, False
    # Built from what was stored, as a replay or a later read builds it.
    return request_read(row, principal), True
