"""The whole portal as `make run` starts it (`python -m portal_embedded run`, demo data
included) on free ports and a temporary data folder, for tests that go through the
gateway as a frontend or an agency system would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portal_embedded.testing import Portal


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    portal = Portal.on_free_ports(Path(tmp_path_factory.mktemp("portal")) / "data")
    runner = portal.start_ready()
    try:
        yield portal
    finally:
        portal.stop(runner)
        portal.kill_all()
