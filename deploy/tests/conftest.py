"""The deploy tests' shared fixture: the manifests of each variant they check."""

from __future__ import annotations

import pytest

from portal_testing.manifests import Doc, variant


@pytest.fixture(params=["base", "production"], scope="module")
def docs(request: pytest.FixtureRequest) -> list[Doc]:
    """The base's resources, then the production overlay as kustomize renders it."""
    return variant(request.param)
