"""The whole portal as `make run` starts it (`python -m portal_embedded run`, demo data
included) on free ports and a temporary data folder, for tests that go through the
gateway as a frontend or an agency system would: the session's `whole_portal`, which the
browser tests share."""

from __future__ import annotations

import pytest

from portal_testing.portal import Portal


@pytest.fixture(scope="session")
def portal(whole_portal: Portal) -> Portal:
    return whole_portal
