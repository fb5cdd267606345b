"""The command line every service shares: `python -m <service> serve|migrate|worker|...`.

`serve` runs the HTTP API (with the relay and consumers unless switched off),
`worker` runs only the relay and consumers, `migrate` creates the database if
needed and upgrades it; a service may add its own commands (e.g. `seed-demo`).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from portal_shared.migrations import ensure_database, upgrade
from portal_shared.settings import ServiceSettings

Command = Callable[[], Coroutine[Any, Any, None]]

# How `serve` runs uvicorn, shared with test harnesses that serve the apps the same way.
# No `Server:` header: it tells an attacker which server (and so which bugs) to try.
SERVE_OPTIONS: dict[str, Any] = {
    "log_level": "warning",
    "access_log": False,
    "proxy_headers": True,
    "server_header": False,
    "timeout_graceful_shutdown": 10,
}


async def _worker(app_factory: Callable[[], FastAPI]) -> None:
    """Run the app's lifespan (relay, consumers, workers) without serving HTTP."""
    app = app_factory()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with app.router.lifespan_context(app):
        await stop.wait()


def main(
    *,
    prog: str,
    service_root: Path,
    settings_factory: Callable[[], ServiceSettings],
    app_factory: str,
    extra: Mapping[str, Command] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=prog)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the HTTP API")
    sub.add_parser("migrate", help="create the database if needed and upgrade it to head")
    sub.add_parser("worker", help="run the outbox relay and consumers without HTTP")
    for name in extra or {}:
        sub.add_parser(name)
    args = parser.parse_args()
    settings = settings_factory()
    if args.command == "serve":
        uvicorn.run(
            app_factory,
            factory=True,
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            http="httptools",
            forwarded_allow_ips=list(settings.trusted_proxies),
            **SERVE_OPTIONS,
        )
    elif args.command == "migrate":
        asyncio.run(ensure_database(settings.database_url))
        upgrade(service_root, settings.database_url)
    elif args.command == "worker":
        module, _, attr = app_factory.partition(":")
        factory = getattr(__import__(module, fromlist=[attr]), attr)
        asyncio.run(_worker(factory))
    else:
        asyncio.run((extra or {})[args.command]())
