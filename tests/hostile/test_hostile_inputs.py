"""No input breaks a request for anyone else (issue 15): every operation of the gateway's
merged OpenAPI document, called by a resident, an officer, the administrator, an agency
system and anonymously, with hostile values in every place it takes input (tests/hostile/
inputs.py), and with revoked, expired, wrong-audience and under-scoped tokens. No answer
may be a 5xx, every 4xx is a problem, and at the end the demo agencies' officers still list
their requests and every resident still reads theirs, one by one.

A caller the operation refuses outright (its base call is 401 or 403) gets only every
`SAMPLE`th case: the refusal comes before the input is looked at.

Known failures in code this suite does not own are listed in `KNOWN` with their reason; the
walk tolerates them, and each is re-run on its own as a strict xfail, so its fix shows.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from portal_testing.oidc import valid_iin
from tests.fuzz.bodies import PASSWORD
from tests.fuzz.portal import Portal
from tests.hostile.calls import faults, send
from tests.hostile.inputs import _LITERALS, _SENTINEL, Bases, Case, Operation, cases, dumps
from tests.hostile.world import Target, bearer, revoked_token, sign_in

CALLERS = ("anonymous", "resident", "officer", "admin", "agency_system")
SAMPLE = 5
# Case label ("METHOD path place family") -> why it still fails, for code owned elsewhere
# (services/requests, gateway/).
KNOWN: dict[str, str] = {}
# Operations anyone may call without a token (the gateway's public routes).
PUBLIC = ("GET /api/v1/agencies", "GET /api/v1/services", "POST /api/v1/residents")


def _public(operation: Operation) -> bool:
    return operation.label.startswith(PUBLIC) or not operation.path.startswith("/api/")


def walk(
    gateway: httpx.Client, caller: str, token: dict[str, str], operation: Operation, bases: Bases
) -> tuple[list[str], list[str]]:
    """(failures, known failures) of one caller's cases of one operation."""
    failures: list[str] = []
    known: list[str] = []
    refused = False
    for k, case in enumerate(cases(operation, bases)):
        if refused and k % SAMPLE:
            continue
        response = send(gateway, caller, case, token)
        if response is None:
            continue
        if case.place == "base":
            refused = response.status_code in (401, 403)
        for fault in faults(case, response):
            line = f"{caller}: {case.label}: {fault}"
            (known if case.label in KNOWN else failures).append(line)
    return failures, known


@pytest.mark.parametrize("caller", CALLERS)
def test_no_hostile_input_breaks_an_operation(
    portal: Portal, target: Target, bases: Bases, every_operation: list[Operation], caller: str
) -> None:
    failures: list[str] = []
    with portal.client("gateway") as gateway:
        for operation in every_operation:
            found, _ = walk(gateway, caller, target.callers[caller], operation, bases)
            failures += found
    assert not failures, f"{len(failures)} bad answers:\n" + "\n".join(failures[:80])


@pytest.fixture(scope="session")
def bad_tokens(portal: Portal, target: Target) -> dict[str, dict[str, str]]:
    return {
        "revoked": revoked_token(portal),
        "expired": bearer(portal.issuer.token(roles=["admin"], ttl=-3600)),
        "wrong-audience": bearer(portal.issuer.token(roles=["admin"], aud="another-api")),
    }


def _base(operation: Operation, bases: Bases) -> Case:
    return next(iter(cases(operation, bases)))


@pytest.mark.parametrize("kind", ["revoked", "expired", "wrong-audience"])
def test_a_bad_token_is_refused_by_every_operation(
    portal: Portal,
    bases: Bases,
    every_operation: list[Operation],
    bad_tokens: dict[str, dict[str, str]],
    kind: str,
) -> None:
    wrong: list[str] = []
    with portal.client("gateway") as gateway:
        for operation in every_operation:
            case = _base(operation, bases)
            response = send(gateway, kind, case, bad_tokens[kind])
            assert response is not None
            wrong += [f"{case.label}: {f}" for f in faults(case, response)]
            if operation.path.startswith("/api/") and response.status_code != 401:
                wrong.append(f"{case.label}: {response.status_code}, not 401")
            elif operation.path.startswith("/api/"):
                challenge = response.headers.get("www-authenticate", "")
                if "invalid_token" not in challenge:
                    wrong.append(f"{case.label}: challenge {challenge!r}")
    assert not wrong, "\n".join(wrong)


def test_an_under_scoped_token_is_refused(
    portal: Portal, target: Target, bases: Bases, every_operation: list[Operation]
) -> None:
    token = bearer(sign_in(portal, valid_iin(7010), scope="openid"))
    taken: list[str] = []
    with portal.client("gateway") as gateway:
        for operation in every_operation:
            if _public(operation):
                continue
            case = _base(operation, bases)
            response = send(gateway, "under-scoped", case, token)
            assert response is not None
            assert not faults(case, response), (case.label, response.text)
            challenge = response.headers.get("www-authenticate", "")
            scoped = "insufficient_scope" in challenge or "insufficient-scope" in response.text
            if response.status_code not in (401, 403) or not scoped:
                taken.append(f"{case.label}: {response.status_code}")
    assert not taken, "taken without the operation's scope:\n" + "\n".join(taken)


# With nothing known to fail, pytest reports this test as skipped (an empty parameter set).
@pytest.mark.parametrize("label", sorted(KNOWN))
def test_a_known_failure_still_fails(
    portal: Portal,
    target: Target,
    bases: Bases,
    every_operation: list[Operation],
    label: str,
    request: pytest.FixtureRequest,
) -> None:
    request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN[label]))
    wrong: list[str] = []
    with portal.client("gateway") as gateway:
        for operation in every_operation:
            for case in cases(operation, bases):
                if case.label != label:
                    continue
                for caller, token in target.callers.items():
                    response = send(gateway, caller, case, token)
                    if response is not None:
                        wrong += faults(case, response)
    assert not wrong, "\n".join(wrong)


def _all_pages(gateway: httpx.Client, path: str, headers: dict[str, str]) -> list[Any]:
    items: list[Any] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        page = gateway.get(path, params=params, headers=headers)
        assert page.status_code == 200, f"{path}: {page.status_code} {page.text[:300]}"
        body = page.json()
        items += body["items"]
        if not body.get("next_cursor"):
            return items
        params["cursor"] = body["next_cursor"]


def test_everyone_still_reads_their_own(portal: Portal, target: Target) -> None:
    """Acceptance 2, after the walk: nothing stored broke anyone's reads."""
    with portal.client("gateway") as gateway:
        for agency_id, username, password in target.officers:
            listed = _all_pages(
                gateway, "/api/v1/requests", bearer(sign_in(portal, username, password))
            )
            ids = {r["id"] for r in listed}
            for mine in (r for r in target.demo_requests if r["agency_id"] == agency_id):
                assert mine["id"] in ids, f"{username} no longer lists {mine['id']}"
        system = target.callers["agency_system"]
        assert target.hostile_request["id"] in {
            r["id"] for r in _all_pages(gateway, "/api/v1/requests", system)
        }
        for iin in target.residents:
            resident = bearer(sign_in(portal, iin, PASSWORD))
            for listed in _all_pages(gateway, "/api/v1/requests", resident):
                one = gateway.get(f"/api/v1/requests/{listed['id']}", headers=resident)
                assert one.status_code == 200, f"{iin}: {one.status_code} {one.text[:300]}"
                history = gateway.get(f"/api/v1/requests/{listed['id']}/history", headers=resident)
                assert history.status_code == 200, history.text[:300]


@pytest.mark.parametrize("family", ["int-past-2^53", "int-past-float", "control", "max-date"])
def test_a_replayed_submission_answers_what_the_first_did(
    portal: Portal, target: Target, family: str
) -> None:
    """The same Idempotency-Key and body again: the very answer of the first call, not a
    5xx and not a value changed on the way through storage."""
    body = {"service_id": target.open_service, "form_data": {"note": _SENTINEL}}
    content = dumps(body, _LITERALS[family])
    headers = {
        **target.callers["resident"],
        "Idempotency-Key": f"hostile-replay-{family}-{uuid.uuid4()}",
        "Content-Type": "application/json",
    }
    with portal.client("gateway") as gateway:
        first, again = (
            gateway.post("/api/v1/requests", content=content, headers=headers) for _ in range(2)
        )
    answers = [(first.status_code, first.text), (again.status_code, again.text)]
    assert first.status_code < 500, answers
    assert again.status_code < 500, answers
    # The contract's "returns the same request": 201 then 200 (it exists by then) is fine.
    assert (first.status_code, again.status_code) in ((201, 200), (201, 201)) or (
        again.status_code == first.status_code
    ), answers
    if first.status_code == 201:
        assert json.loads(again.content) == json.loads(first.content), answers
        assert first.content.decode().count(_LITERALS[family].literal) == 1, first.text
