"""The fuzz suite's portal: every service on real uvicorn, real PostgreSQL, a private broker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fuzz.portal import SHARED, Portal
from tests.fuzz.statuses import ANSWERS


@pytest.fixture(scope="session")
def portal(postgres_url: str) -> Iterator[Portal]:
    yield SHARED.acquire(postgres_url)
    SHARED.release()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many answers each operation had and how many were 429 (none, with the fuzz
    portal's raised limits)."""
    if not ANSWERS:
        return
    calls: dict[str, int] = {}
    for (label, _), count in ANSWERS.items():
        calls[label] = calls.get(label, 0) + count
    throttled = {label: ANSWERS[label, 429] for label in calls if ANSWERS[label, 429]}
    terminalreporter.section("schemathesis: 429 answers per operation")
    terminalreporter.write_line(
        f"{len(calls)} operations, {sum(calls.values())} calls, "
        f"{sum(throttled.values())} answered 429"
    )
    for label, count in sorted(throttled.items()):
        terminalreporter.write_line(f"  {label}: {count} of {calls[label]}")
