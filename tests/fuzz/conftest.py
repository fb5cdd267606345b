"""The fuzz suite's portal: every service on real uvicorn, real PostgreSQL, a private broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.portal import SHARED, Portal


@pytest.fixture(scope="session")
def portal(postgres_url: str) -> Iterator[Portal]:
    yield SHARED.acquire(postgres_url)
    SHARED.release()
