"""Fixtures for the notifications service's tests: a fresh migrated database, the running
app (consumers and the email sender included) on the real broker, tokens from a test issuer,
a publisher of other services' events, and every receiver the service sends to: a real SMTP
sink writing to a Maildir, an agency system's webhook receiver, and a bare TCP listener."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiosmtpd.handlers import Mailbox
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from notifications.__main__ import SERVICE_ROOT
from notifications.app import create_app
from notifications.settings import NotificationsSettings
from portal_embedded.broker import free_port
from portal_embedded.mail import MailSink
from portal_shared.events import CloudEvent
from portal_testing.folders import until_tests_in_done
from portal_testing.service import TestIssuer, client_for, migrated_settings, running, truncate_all

WAIT = 30.0

Publish = Callable[..., Awaitable[CloudEvent]]

HERE = Path(__file__).resolve().parent


async def eventually(check: Callable[[], Any], what: str, within: float = WAIT) -> Any:
    """Poll until `check` (sync or async) returns something truthy; fail naming `what`."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer()


# Receivers ---------------------------------------------------------------------------

REFUSED_DOMAIN = "refused.example"


class RefusingMailbox(Mailbox):
    """The Maildir writer, except that it answers 550 for every address at REFUSED_DOMAIN,
    as a real server does for a mailbox that does not exist; and, once `outage()` is called,
    it takes some messages and then answers 421 (shutting down, the connection is closed)
    to the next ones, as a server going away in the middle of a batch does."""

    accept_before_outage: int | None = None
    refused_in_outage = 0

    def outage(self, *, after: int, refusing: int) -> None:
        self.accept_before_outage, self.refused_in_outage = after, refusing

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.accept_before_outage is not None:
            if self.accept_before_outage > 0:
                self.accept_before_outage -= 1
            elif self.refused_in_outage > 0:
                self.refused_in_outage -= 1
                return "421 4.3.2 Service shutting down"
            else:
                self.accept_before_outage = None
        reply: str = await super().handle_DATA(server, session, envelope)
        return reply

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.endswith("@" + REFUSED_DOMAIN):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture(scope="session")
def mail_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailSink]:
    folder = Path(tmp_path_factory.mktemp("mail"))
    sink = MailSink(folder, free_port(), handler=RefusingMailbox(folder))
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@dataclass
class Endpoint:
    """One webhook endpoint of the receiver: its secret and what it saw."""

    secret: str = ""
    # Answers to give, first to last, before answering 204 (or 503 while `down`).
    answers: list[int] = field(default_factory=list)
    down: bool = False
    # While set, requests wait for it to be set before they are answered (a slow endpoint).
    hold: asyncio.Event | None = None
    held: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    unverified: int = 0


class Receiver:
    """An agency system's webhook receiver written with `standardwebhooks`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoints: dict[str, Endpoint] = {}

    def url(self, name: str) -> str:
        self.endpoints.setdefault(name, Endpoint())
        return f"http://127.0.0.1:{self.port}/{name}"

    async def handle(self, request: web.Request) -> web.Response:
        endpoint = self.endpoints[request.match_info["name"]]
        body = await request.read()
        try:
            Webhook(endpoint.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            endpoint.unverified += 1
            return web.Response(status=400)
        if endpoint.hold is not None:
            endpoint.held += 1
            await endpoint.hold.wait()
        answer = endpoint.answers.pop(0) if endpoint.answers else 503 if endpoint.down else 204
        if answer < 300:
            endpoint.received.append({"headers": dict(request.headers), "body": body})
        return web.Response(status=answer, headers={"Retry-After": "0"})

    def of(self, name: str, kind: str | None = None) -> list[dict[str, Any]]:
        seen = self.endpoints[name].received
        return [r for r in seen if kind is None or r["headers"]["ce-type"] == kind]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiving = Receiver()
    app = web.Application()
    app.router.add_post("/{name}", receiving.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiving.port).start()
    try:
        yield receiving
    finally:
        await runner.cleanup()


class Listener:
    """A TCP listener on loopback that counts the connections made to it."""

    def __init__(self) -> None:
        self.connections = 0
        self.heads: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    listening = Listener()
    listening.server = await asyncio.start_server(listening._accept, "127.0.0.1", 0)
    listening.port = listening.server.sockets[0].getsockname()[1]
    try:
        yield listening
    finally:
        listening.server.close()
        await listening.server.wait_closed()


# The app, and what other services tell it ----------------------------------------------


@pytest.fixture(scope="session")
async def settings(
    postgres_url: str, kafka_bootstrap: str, mail_sink: MailSink
) -> NotificationsSettings:
    return await migrated_settings(
        NotificationsSettings,
        SERVICE_ROOT,
        f"{postgres_url}/notifications_test",
        kafka_bootstrap,
        smtp_port=mail_sink.port,
        email_poll_seconds=0.05,
        email_backoff_seconds=0.1,
        email_backoff_max_seconds=0.5,
        smtp_timeout=2.0,
        webhooks_allow_http_loopback=True,
        webhooks_poll_seconds=0.05,
        webhooks_retry_seconds=[0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
        webhooks_connect_timeout=2.0,
        webhooks_read_timeout=5.0,
    )


@pytest.fixture(scope="session")
async def app(settings: NotificationsSettings, issuer: TestIssuer) -> AsyncIterator[FastAPI]:
    async with until_tests_in_done(running(create_app(settings), issuer), HERE) as app:
        async with asyncio.timeout(WAIT):
            for consumer in app.state.consumers:
                await consumer.assigned.wait()
        yield app


@pytest.fixture
async def client(app: FastAPI, mail_sink: MailSink) -> AsyncIterator[httpx.AsyncClient]:
    await truncate_all(app.state.engine)
    if not mail_sink.running:
        mail_sink.start()
    async with client_for(app) as client:
        yield client


@pytest.fixture
async def publish(kafka_bootstrap: str) -> AsyncIterator[Publish]:
    """Publishes an event exactly as another service's relay does (same id = a redelivery)."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()

    async def send(
        topic: str, kind: str, data: dict[str, Any], *, event_id: str | None = None
    ) -> CloudEvent:
        event = CloudEvent(
            type=f"{topic}.{kind}.v1",
            source="/" + topic.split(".")[0],
            subject=str(data["id"]),
            data=data,
            id=event_id or str(uuid.uuid4()),
        )
        await producer.send_and_wait(
            topic, value=event.value(), key=str(data["id"]).encode(), headers=event.headers()
        )
        return event

    try:
        yield send
    finally:
        await producer.stop()


def user_data(
    account_id: uuid.UUID,
    *,
    email: str | None,
    version: int = 1,
    status: str = "active",
    roles: tuple[str, ...] = ("resident",),
    agency_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """An account as identity's identity.contact events describe one."""
    return {
        "id": str(account_id),
        "roles": list(roles),
        "agency_id": str(agency_id) if agency_id else None,
        "status": status,
        "version": version,
        "email": email,
    }


AGENCY_ID = uuid.uuid5(uuid.NAMESPACE_URL, "urn:baikonur-portal:agency:BKR-MIGRATION")
SERVICE_ID = uuid.uuid5(uuid.NAMESPACE_URL, "urn:baikonur-portal:service:RESIDENCE-REG")

STATE_SERVICE: dict[str, Any] = {
    "id": str(SERVICE_ID),
    "code": "RESIDENCE-REG",
    "name": {
        "kk": "Тұрғылықты жері бойынша тіркеу",
        "ru": "Регистрация по месту жительства",
        "en": "Registration of residence",
    },
    "agency_id": str(AGENCY_ID),
    "status": "published",
    "version": 1,
    # The whole event as the catalog publishes it: the broker is shared with the other
    # tests' services, and a requests service reading catalog.service from the start would
    # otherwise retry it as malformed, then dead-letter it, seconds for each.
    "term_working_days": 10,
    "form_schema": {"type": "object"},
    "required_documents": [],
    "refusal_grounds": [
        {
            "code": "false-documents",
            "text": {
                "kk": "Құжаттардың дәйексіздігі",
                "ru": "Недостоверность представленных документов",
                "en": "The documents are not authentic",
            },
        }
    ],
}


class Application:
    """One application's life as the requests service publishes it."""

    def __init__(self, applicant_id: uuid.UUID, number: str = "BKR-2026-000001") -> None:
        self.id = uuid.uuid4()
        self.applicant_id = applicant_id
        self.number = number
        self.version = 0
        self.status: str | None = None

    def data(
        self,
        status: str,
        *,
        comment: str | None = None,
        reason_code: str | None = None,
        reason_text: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        self.version += 1
        previous, self.status = self.status, status
        return {
            "id": str(self.id),
            "number": self.number,
            "status": status,
            "previous_status": previous,
            "service_id": str(SERVICE_ID),
            "service_version": 1,
            "agency_id": str(AGENCY_ID),
            "due_date": date(2026, 12, 15).isoformat(),
            "version": self.version,
            "occurred_at": datetime.now(UTC).isoformat(),
            "applicant_id": str(self.applicant_id),
            "comment": comment,
            "reason_code": reason_code,
            "reason_text": reason_text,
        }


Eventually = Callable[..., Awaitable[Any]]


@pytest.fixture
def wait_for() -> Eventually:
    return eventually


@pytest.fixture
def new_application() -> Callable[[uuid.UUID], Application]:
    return Application


async def _scalar(app: FastAPI, sql: str, **params: Any) -> Any:
    from sqlalchemy import text

    async with app.state.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


@pytest.fixture
async def state_service(
    client: httpx.AsyncClient, app: FastAPI, publish: Publish
) -> dict[str, Any]:
    """The catalog's published service, arrived over the broker."""
    await publish("catalog.service", "published", STATE_SERVICE)

    async def arrived() -> Any:
        return await _scalar(app, "SELECT count(*) FROM state_services")

    await eventually(arrived, "the catalog's service copy")
    return STATE_SERVICE


Register = Callable[..., Awaitable[uuid.UUID]]


@pytest.fixture
def register(app: FastAPI, publish: Publish) -> Register:
    """An account (a resident unless told otherwise) registered at identity, whose event
    has reached the local copy."""

    async def make(
        *,
        email: str | None = None,
        roles: tuple[str, ...] = ("resident",),
        agency_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        account_id = uuid.uuid4()
        address = email or f"{roles[0]}-{account_id.hex[:8]}@example.kz"
        data = user_data(account_id, email=address, roles=roles, agency_id=agency_id)
        await publish("identity.contact", "registered", data)

        async def arrived() -> Any:
            return await _scalar(app, "SELECT email FROM recipients WHERE id = :id", id=account_id)

        await eventually(arrived, "the identity account copy")
        return account_id

    return make
