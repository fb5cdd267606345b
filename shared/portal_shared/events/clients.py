"""Stopping aiokafka clients without inheriting aiokafka's stray cancellations."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

log = structlog.get_logger(__name__)


async def stop_client(client: AIOKafkaConsumer | AIOKafkaProducer) -> None:
    """Stop `client`, keeping a CancelledError that was not meant for this task.

    aiokafka's `Fetcher.close` cancels the fetch requests in flight and then awaits them
    without catching their cancellation (aio-libs/aiokafka#983 lists it among the places
    that do so). When a consumer is stopped while a request is in its retry back-off, the
    usual case right after the broker went away, `stop()` raises CancelledError into a
    task that nobody cancelled: a consumer loop that retries on broker errors then ends
    instead, and its service goes on without it. The fault suite saw it when a test's
    consumer stopped after a broker outage. A real cancellation of this task
    (`cancelling()`) still propagates.
    """
    try:
        await client.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("kafka_client_stop_interrupted", client=type(client).__name__)
        # stop() ended before closing the connections (and marks itself closed, so it
        # cannot be called again): close them here.
        with contextlib.suppress(Exception):
            await client._client.close()  # private, see above
