"""A TCP proxy that a test can cut and restore, to take a server away without killing it.

The embedded broker keeps everything in memory, so a broker outage is played by
cutting the network in front of it instead (see INFRA.md). Cutting closes every
open connection and refuses new ones until `restore()`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from portal_embedded.broker import EmbeddedBroker, free_port


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, listen_port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.listen_port = listen_port
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.connected = True

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.listen_port)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        if not self.connected:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._open.update({writer, up_writer})
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._open.difference_update({writer, up_writer})

    def cut(self) -> None:
        self.connected = False
        for writer in list(self._open):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._open.clear()

    def restore(self) -> None:
        self.connected = True

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # Let the cut connections' handlers finish here: left for asyncio.run to cancel at
        # exit, each printed a CancelledError traceback (Python 3.11's streams callback).
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=5)


@contextlib.asynccontextmanager
async def broker_behind_proxy(
    log_file: Path | None = None,
) -> AsyncIterator[tuple[EmbeddedBroker, TcpProxy]]:
    """A broker that advertises a proxy's port, so every client connection, including the
    ones a client opens after reading the metadata, goes through the proxy and can be cut.
    Clients bootstrap from `127.0.0.1:{proxy.port}`."""
    proxy_port = free_port()
    broker = EmbeddedBroker(free_port(), log_file=log_file, advertised_port=proxy_port)
    broker.start()
    proxy = TcpProxy("127.0.0.1", broker.port, listen_port=proxy_port)
    try:
        await proxy.start()
        yield broker, proxy
    finally:
        await proxy.stop()
        broker.stop()
