"""The hostile suite's portal (the fuzz portal, shared in one pytest session), its target
and the valid base values the cases build on; the call counts are printed at the end."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fuzz.bodies import agency_body, resident_body, service_body
from tests.fuzz.portal import SHARED, Portal
from tests.hostile.calls import summary
from tests.hostile.inputs import Bases, Operation, example, operations
from tests.hostile.world import Target, build_target

_serials = itertools.count()


@pytest.fixture(scope="session")
def portal(postgres_url: str) -> Iterator[Portal]:
    yield SHARED.acquire(postgres_url)
    SHARED.release()


@pytest.fixture(scope="session")
def target(portal: Portal) -> Target:
    return build_target(portal)


@pytest.fixture(scope="session")
def document(portal: Portal) -> dict[str, Any]:
    with portal.client("gateway") as gateway:
        answer = gateway.get("/openapi.json")
    assert answer.status_code == 200
    merged: dict[str, Any] = answer.json()
    return merged


@pytest.fixture(scope="session")
def every_operation(document: dict[str, Any]) -> list[Operation]:
    found = operations(document)
    assert len(found) > 40, "the merged document lost operations"
    return found


def _unique() -> str:
    return f"{next(_serials):05d}"


def _bodies(target: Target) -> dict[str, Any]:
    """Bodies each operation takes as it is, made afresh per call (codes stay unique)."""
    return {
        "POST /api/v1/requests": lambda: {
            "service_id": target.open_service,
            "form_data": {"items": [{"a": 1}], "note": {"text": "ok"}},
        },
        "POST /api/v1/agencies": lambda: agency_body(f"BKR-HB{_unique()}"),
        "PATCH /api/v1/agencies/{agency_id}": lambda: {"city": "Baikonur"},
        "POST /api/v1/services": lambda: service_body(f"hb-{_unique()}", target.hostile_agency),
        "PATCH /api/v1/services/{service_id}": lambda: {"term_working_days": 6},
        "POST /api/v1/residents": lambda: resident_body(8000 + 5 * (next(_serials) % 300)),
        "POST /api/v1/users": lambda: {
            "username": f"hostile-user-{_unique()}",
            "password": "steppe-wind-2026",
            "given_name": "Daulet",
            "family_name": "Officer",
            "email": f"hostile-{_unique()}@example.kz",
            "roles": ["officer"],
            "agency_id": target.hostile_agency,
        },
        "PATCH /api/v1/users/{account_id}": lambda: {"given_name": "Aliya"},
        "POST /api/v1/clients": lambda: {
            "client_id": f"hostile-client-{_unique()}",
            "name": "Hostile client",
            "client_type": "confidential",
            "grant_types": ["client_credentials"],
        },
    }


# The resource whose ETag an operation's If-Match names.
_ACTIONS = ("/actions", "/deactivate", "/activate", "/publish", "/withdraw")


@pytest.fixture(scope="session")
def bases(portal: Portal, target: Target) -> Iterator[Bases]:
    bodies = _bodies(target)
    admin = target.callers["admin"]
    cursors: dict[str, str | None] = {}
    with portal.client("gateway") as gateway:

        def body_for(operation: Operation) -> Any:
            made = bodies.get(operation.label)
            if made is not None:
                return made()
            assert operation.body is not None
            return example(operation.body)

        def etag_for(operation: Operation, path: str) -> str | None:
            resource = path
            for suffix in _ACTIONS:
                resource = resource.removesuffix(suffix)
            for candidate in (resource, resource + "/draft"):
                tag: str | None = gateway.get(candidate, headers=admin).headers.get("etag")
                if tag:
                    return tag
            return None

        def cursor_for(operation: Operation) -> str | None:
            if operation.label not in cursors:
                path = operation.path
                for name, value in target.sacrificial.items():
                    path = path.replace("{" + name + "}", value)
                cursor = None
                for source in (path, "/api/v1/agencies"):
                    answer = gateway.get(source, params={"limit": 1}, headers=admin)
                    if answer.status_code == 200:
                        cursor = answer.json().get("next_cursor")
                    if cursor:
                        break
                cursors[operation.label] = cursor
            return cursors[operation.label]

        yield Bases(target.sacrificial, body_for, etag_for, cursor_for)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = summary()
    if lines:
        terminalreporter.section("hostile input: calls made")
        for line in lines:
            terminalreporter.write_line(line)
