"""The whole portal as `make run` starts it (`python -m portal_embedded run`, demo data
included) on free ports and a temporary data folder, for tests that go through the
gateway as a frontend or an agency system would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portal_testing.portal import Portal, server_folder


@pytest.fixture(scope="session")
def portal() -> Iterator[Portal]:
    with server_folder("portal-e2e-") as folder:
        portal = Portal.on_free_ports(folder / "data")
        runner = portal.start_ready()
        try:
            yield portal
        finally:
            portal.stop(runner)
            portal.kill_all()
