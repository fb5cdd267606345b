"""stop_client: aiokafka's stray cancellation on stop does not end the caller's loop."""

from __future__ import annotations

import asyncio

import pytest

from portal_shared.events.clients import stop_client


class _Connections:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class _StopsLikeAiokafka:
    """What AIOKafkaConsumer.stop does when a fetch request is in its retry back-off:
    it cancels that request's task, awaits it, and so raises its CancelledError."""

    def __init__(self) -> None:
        self._client = _Connections()

    async def stop(self) -> None:
        request = asyncio.ensure_future(asyncio.sleep(0.1))
        await asyncio.sleep(0)
        request.cancel()
        await request


async def test_a_stray_cancellation_is_kept_and_the_connections_closed() -> None:
    client = _StopsLikeAiokafka()
    await stop_client(client)
    assert client._client.closed
    # The caller goes on: its own loop was never cancelled.
    await asyncio.sleep(0)


async def test_a_real_cancellation_of_the_caller_still_propagates() -> None:
    stopping = asyncio.Event()

    class _SlowStop(_StopsLikeAiokafka):
        async def stop(self) -> None:
            stopping.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(stop_client(_SlowStop()))
    await stopping.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
