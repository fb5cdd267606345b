"""Servers that only one folder's tests use, stopped once its last test is done.

A session fixture lives until the end of the session. For a folder's own servers (the
gateway tests' service processes, the fuzz suites' portal) that meant idling beside every
later test: in a run of the whole suite on 2026-12-01 such leftovers (services polling
their databases, consumers long-polling the broker) took most of a core for its last
twenty minutes. `close_after_tests_in` stops them right after the last collected test
under the folders named; the fixture's own teardown still runs at the end, so the closer
must be safe to call twice. `until_tests_in_done` does this for an in-process app's
lifespan: between tests the session's event loop is idle, so the app is shut down on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

_CLOSERS: dict[Callable[[], None], frozenset[Path]] = {}
_LAST: dict[frozenset[Path], str | None] = {}


def close_after_tests_in(closer: Callable[[], None], *folders: Path) -> None:
    """Call `closer` once the last test under any of `folders` has been torn down."""
    _CLOSERS[closer] = frozenset(folder.resolve() for folder in folders)


def _under(item: pytest.Item, folders: frozenset[Path]) -> bool:
    return any(item.path.is_relative_to(folder) for folder in folders)


def _last(items: list[pytest.Item], folders: frozenset[Path]) -> str | None:
    if folders not in _LAST:
        ids = [item.nodeid for item in items if _under(item, folders)]
        _LAST[folders] = ids[-1] if ids else None
    return _LAST[folders]


def after_teardown(item: pytest.Item) -> None:
    """The plugin's `pytest_runtest_teardown`, after pytest's own."""
    for closer, folders in list(_CLOSERS.items()):
        if _last(item.session.items, folders) == item.nodeid:
            del _CLOSERS[closer]
            closer()


@asynccontextmanager
async def until_tests_in_done(
    context: AbstractAsyncContextManager[T], *folders: Path
) -> AsyncIterator[T]:
    """Enter `context` for a session fixture; leave it after the last test under `folders`
    (on the session's event loop, idle between tests), or when the fixture ends if sooner."""
    loop = asyncio.get_running_loop()
    value = await context.__aenter__()
    left = False

    async def leave() -> None:
        nonlocal left
        if not left:
            left = True
            await context.__aexit__(None, None, None)

    def close() -> None:
        # After the session's last test, pytest has ended the fixture (and the loop) first.
        if not left and not loop.is_closed():
            loop.run_until_complete(leave())

    close_after_tests_in(close, *folders)
    try:
        yield value
    finally:
        await leave()
