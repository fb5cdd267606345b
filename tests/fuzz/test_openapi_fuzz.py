"""Schemathesis against every component's OpenAPI document and the gateway's merged one,
once per kind of caller.

For each component and each identity (nobody, two residents, an officer of the agency, an
officer of another agency, an administrator) every operation gets generated calls, valid
and invalid, some aimed at the real objects of the shared world. Every response must:
not be a 5xx; match its declared status codes, content types, headers and schema; be
problem+json with a `detail` when it is an error; never show one owner's request to
another; refuse protected operations without a token and with a forged one; and keep
administrators' writes to administrators.

Bounded and reproducible: a fixed number of examples per operation, derandomized, no
shrinking (a failure is printed with the call that caused it), no example database.

Identity and the gateway are called with identity's real tokens (the code flow's), the
other services with the test issuer's. Identity's OAuth endpoints legitimately answer
differently: RFC 6749 errors are application/json with `error` (and the problem fields),
and the login form is HTML.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Err

from portal_testing.service import TestIssuer
from tests.fuzz.portal import COMPONENTS, Portal, World
from tests.fuzz.statuses import ANSWERS

EXAMPLES = 25
# The gateway's document is every service's again; its calls check the edge (routing,
# tokens, error shapes), so fewer of them keep the suite within its time.
GATEWAY_EXAMPLES = 5
IDENTITIES = ("anonymous", "resident_a", "resident_b", "officer", "other_officer", "admin")
BUILTIN_CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.use_after_free,
    schemathesis.checks.ensure_resource_availability,
]
# Components whose every write is an administrator's.
ADMIN_WRITES = {"directory", "catalog"}
# Identity's paths that only administrators may use at all, and the owner of each path
# prefix behind the gateway.
ADMIN_PATHS = ("/api/v1/users", "/api/v1/clients", "/api/v1/signing-keys")
OWNERS = (
    ("/auth", "identity"),
    ("/api/v1/residents", "identity"),
    ("/api/v1/me", "identity"),
    *((path, "identity") for path in ADMIN_PATHS),
    ("/api/v1/agencies", "directory"),
    ("/api/v1/services", "catalog"),
    ("/api/v1/requests", "requests"),
)
FUZZED = [*(c.name for c in COMPONENTS), "gateway"]
# A token signed by a key the portal never trusted.
FORGER = TestIssuer()


@dataclass
class Attack:
    """Who calls which component, and what they must never see or do."""

    portal: Portal
    world: World
    component: str
    identity: str
    headers: dict[str, str]
    session: requests.Session = field(default_factory=requests.Session)
    probed: set[str] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        return self.portal.url(self.component)

    def forbidden_ids(self) -> set[str]:
        """Ids of requests this caller may not see."""
        a, b = self.world.request_a["id"], self.world.request_b["id"]
        return {
            "anonymous": {a, b},
            "resident_a": {b},
            "resident_b": {a, str(self.portal.resident_a)},
            "officer": set(),
            "other_officer": {a, b},
            "admin": set(),
        }[self.identity]

    def owner(self, path: str) -> str:
        """The service behind a path (the gateway's own endpoints are the gateway's)."""
        if self.component != "gateway":
            return self.component
        for prefix, name in OWNERS:
            if path == prefix or path.startswith(prefix + "/"):
                return name
        return "gateway"

    def protected(self, case: schemathesis.Case[Any]) -> bool:
        """Operations that need a token: every write, and every read of applications; at
        identity, everything under /api/v1 but registration, and userinfo."""
        method: str = case.operation.method.upper()
        path: str = case.operation.path
        owner = self.owner(path)
        if owner == "identity":
            if path.startswith("/auth/"):
                return path == "/auth/userinfo"
            return path != "/api/v1/residents"
        if owner == "gateway":
            return False
        return method != "GET" or owner == "requests"

    # Checks in schemathesis' signature: raise AssertionError to report a failure.

    def problem_details(self, ctx: Any, response: schemathesis.Response, case: Any) -> bool | None:
        if response.status_code < 400:
            return None
        content_type = (response.headers.get("content-type") or [""])[0]
        assert "Traceback" not in response.text, "the error shows a stack trace"
        oauth = self.owner(case.operation.path) == "identity" and case.path.startswith("/auth/")
        if oauth and content_type.startswith("text/html"):
            return None  # the login form, shown again with its error, for a person
        if oauth and content_type.startswith("application/json"):
            assert isinstance(json.loads(response.content).get("error"), str), (
                "an OAuth error has no RFC 6749 `error`"
            )
        else:
            assert content_type.startswith("application/problem+json"), (
                f"an error answered {content_type!r}, not application/problem+json"
            )
        body = json.loads(response.content)
        assert isinstance(body.get("detail"), str), "the problem has no detail"
        assert body["detail"].strip(), "the problem has no detail"
        return None

    def no_cross_owner(self, ctx: Any, response: schemathesis.Response, case: Any) -> bool | None:
        if not 200 <= response.status_code < 300:
            return None
        leaked = {i for i in self.forbidden_ids() if i in response.text}
        assert not leaked, f"{self.identity} received objects of another owner: {leaked}"
        return None

    def admin_only_writes(
        self, ctx: Any, response: schemathesis.Response, case: Any
    ) -> bool | None:
        if self.identity == "admin" or not 200 <= response.status_code < 300:
            return None
        owner, path = self.owner(case.operation.path), case.operation.path
        assert not (owner == "identity" and path.startswith(ADMIN_PATHS)), (
            f"{self.identity} used identity's administration"
        )
        if owner not in ADMIN_WRITES or case.operation.method.upper() == "GET":
            return None
        assert not 200 <= response.status_code < 300, (
            f"{self.identity} changed {self.component} data reserved to administrators"
        )
        return None

    def authentication(self, ctx: Any, response: schemathesis.Response, case: Any) -> bool | None:
        if not self.protected(case):
            return None
        if self.identity == "anonymous":
            if response.status_code != 401:
                # A body that is not even JSON is refused before anyone is asked who they are.
                problem = json.loads(response.content)
                detail = problem.get("detail", "")
                # The code says so in every language (the fuzzer names none: Kazakh).
                codes = {e.get("code") for e in problem.get("errors", [])}
                assert response.status_code in (400, 422), (
                    f"a protected operation answered {response.status_code} without a token"
                )
                assert "json" in codes or "parsing the body" in detail, (
                    f"a protected operation answered {detail!r} instead of 401 without a token"
                )
            return None
        # Like schemathesis' ignored_auth: once the token made a call succeed, the same call
        # without it, or with a forged one, must be refused.
        label = case.operation.label
        if label in self.probed or not 200 <= response.status_code < 300:
            return None
        self.probed.add(label)
        for headers in ({}, {"Authorization": f"Bearer {FORGER.token(roles=['admin'])}"}):
            probe = case.call(base_url=self.base_url, session=self.session, headers=headers)
            assert probe.status_code == 401, (
                f"{label} answered {probe.status_code} to a request "
                f"{'with a forged token' if headers else 'without a token'}"
            )
        return None

    def checks(self) -> list[schemathesis.CheckFunction]:
        return [
            self.problem_details,
            self.no_cross_owner,
            self.admin_only_writes,
            self.authentication,
        ]


def real_ids(world: World, portal: Portal) -> dict[str, list[str]]:
    """Path parameter values that hit real objects."""
    return {
        "agency_id": [world.agency_id, world.other_agency_id],
        "service_id": [world.service_id],
        "request_id": [world.request_a["id"], world.request_b["id"]],
        "version": ["1"],
        # Not the accounts: the administrator's fuzzer would disable or re-password the
        # people the next test signs in as.
        "client_id": ["portal-web"],
    }


def strategies(operation: Any, ids: dict[str, list[str]]) -> Any:
    """Valid and invalid calls, and valid calls aimed at every real object it can name."""
    options = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    names = [p.name for p in operation.path_parameters]
    for name in names:
        for value in ids.get(name, []):
            options.append(
                operation.as_strategy(
                    generation_mode=GenerationMode.POSITIVE, path_parameters={name: value}
                )
            )
    return st.one_of(options)


def fuzz_operation(attack: Attack, operation: Any) -> list[str]:
    """Every distinct failure of one operation; failures are collected rather than raised
    so that hypothesis does not replay calls against a server whose state has moved on."""
    failures: dict[str, str] = {}
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=GATEWAY_EXAMPLES if attack.component == "gateway" else EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategies(operation, real_ids(attack.world, attack.portal)))
    def run(case: schemathesis.Case[Any]) -> None:
        response = case.call(
            base_url=attack.base_url, session=attack.session, headers=attack.headers
        )
        statuses[response.status_code] += 1
        ANSWERS[f"{attack.component} {operation.label}", response.status_code] += 1
        try:
            case.validate_response(
                response,
                checks=BUILTIN_CHECKS,
                additional_checks=attack.checks(),
                headers=attack.headers,
            )
        except (AssertionError, schemathesis.errors.FailureGroup) as exc:
            for failure in getattr(exc, "exceptions", [exc]):
                title = str(failure).strip().splitlines()[0]
                failures.setdefault(title, f"{failure}\n{case.as_curl_command()}")

    run()
    if statuses[429] and statuses[429] == statuses.total():
        failures["429"] = f"all {statuses[429]} answers were 429: a rate limit, not the logic"
    return list(failures.values())


# schemathesis' own generators draw from `random` (its doing, not ours); hypothesis deprecates
# that with a warning, which this project's pytest turns into an error.
@pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)
@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("component", FUZZED)
def test_every_operation_holds_up(portal: Portal, component: str, identity: str) -> None:
    world = portal.world
    real = component in ("identity", "gateway")
    people = portal.signed_in(world) if real else portal.identities(world)
    attack = Attack(portal, world, component, identity, people[identity])
    document = attack.session.get(f"{attack.base_url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"the document does not describe an operation: {result.err()}")
            continue
        operation = result.ok()
        failures.extend(f"{operation.label}: {f}" for f in fuzz_operation(attack, operation))
    assert not failures, "\n\n".join(failures)
