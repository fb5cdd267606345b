"""The pure rules on their own, without HTTP or a database: the workflow's transition
table as the contract states it, and who may see and do what (access.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from portal_shared import scopes
from portal_shared.auth import Principal
from portal_shared.errors import Forbidden
from service_requests import access
from service_requests.errors import ActionNotAllowed, NotYourRole
from service_requests.models import ServiceRequest
from service_requests.workflow import TRANSITIONS, Actor, Status, allowed_from, take

S = Status
# The contract's table (CONTRACT.md, "Workflow"): action -> (by, from, to).
CONTRACT: dict[str, tuple[Actor, set[Status], Status]] = {
    "accept": (Actor.officer, {S.submitted}, S.in_review),
    "request_info": (Actor.officer, {S.in_review}, S.needs_info),
    "resubmit": (Actor.resident, {S.needs_info}, S.in_review),
    "approve": (Actor.officer, {S.in_review}, S.approved),
    "reject": (Actor.officer, {S.in_review}, S.rejected),
    "complete": (Actor.officer, {S.approved}, S.completed),
    "cancel": (Actor.resident, {S.submitted, S.in_review, S.needs_info}, S.cancelled),
}


def test_the_table_has_exactly_the_contract_s_actions() -> None:
    assert set(TRANSITIONS) == set(CONTRACT)
    for action, (by, _, _) in CONTRACT.items():
        assert TRANSITIONS[action].actor is by, action


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", list(CONTRACT))
def test_every_action_from_every_status(action: str, status: Status) -> None:
    _, sources, target = CONTRACT[action]
    if status in sources:
        assert take(action, status).target is target
        assert action in allowed_from(status)
    else:
        with pytest.raises(ActionNotAllowed) as refused:
            take(action, status)
        assert refused.value.status == 409
        assert refused.value.extra["status_now"] == status.value
        assert action not in allowed_from(status)


def test_finished_requests_allow_nothing() -> None:
    for status in (S.rejected, S.completed, S.cancelled):
        assert allowed_from(status) == []
        with pytest.raises(ActionNotAllowed, match="finished"):
            take("cancel", status)


# Who may see and do what -------------------------------------------------------------------

AGENCY, OTHER_AGENCY = uuid.uuid4(), uuid.uuid4()
APPLICANT = uuid.uuid4()
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def account(
    *roles: str, who: uuid.UUID | None = None, agency: uuid.UUID | None = None
) -> Principal:
    subject = str(who or uuid.uuid4())
    return Principal(
        subject=subject, client_id="portal-web", roles=frozenset(roles), agency_id=agency
    )


def system(
    scope: str = "requests:read requests:write", agency: uuid.UUID | None = AGENCY
) -> Principal:
    return Principal(
        subject="agency-demo",
        client_id="agency-demo",
        scopes=frozenset(scope.split()),
        agency_id=agency,
    )


APPLICANT_P = account("resident", who=APPLICANT)
OTHER_RESIDENT = account("resident")
OFFICER = account("officer", agency=AGENCY)
OTHER_OFFICER = account("officer", agency=OTHER_AGENCY)
ADMIN = account("admin")
SYSTEM = system()
READ_ONLY_SYSTEM = system("requests:read")
OTHER_SYSTEM = system(agency=OTHER_AGENCY)


def request_in(status: Status = S.submitted) -> ServiceRequest:
    return ServiceRequest(
        id=uuid.uuid4(),
        number="BKR-2026-000001",
        service_id=uuid.uuid4(),
        service_version=1,
        agency_id=AGENCY,
        applicant_id=APPLICANT,
        status=status,
        form_data={},
        submitted_at=NOW,
        timezone="Asia/Almaty",
        due_date=NOW.date(),
        version=1,
        updated_at=NOW,
    )


def bound(condition: sa.ClauseElement) -> Any:
    """The value a `column == value` condition compares with."""
    assert isinstance(condition, sa.BinaryExpression)
    assert isinstance(condition.right, sa.BindParameter)
    return condition.right.value


def test_who_sees_which_requests() -> None:
    assert isinstance(access.visible(ADMIN), sa.sql.elements.True_)
    for nobody in (account(), account("officer"), system(agency=None)):
        assert isinstance(access.visible(nobody), sa.sql.elements.False_), nobody
    assert bound(access.visible(OFFICER)) == AGENCY
    assert "agency_id" in str(access.visible(OFFICER))
    assert bound(access.visible(SYSTEM)) == AGENCY
    assert bound(access.visible(APPLICANT_P)) == APPLICANT
    assert "applicant_id" in str(access.visible(APPLICANT_P))
    # An officer who also applies sees both their agency's requests and their own.
    both = account("officer", "resident", who=APPLICANT, agency=OTHER_AGENCY)
    assert {bound(c) for c in access.visible(both).get_children()} == {OTHER_AGENCY, APPLICANT}


def test_form_data_is_for_the_applicant_and_the_responsible_agency() -> None:
    where = {"agency_id": AGENCY, "applicant_id": APPLICANT}
    for sees in (APPLICANT_P, OFFICER, SYSTEM, READ_ONLY_SYSTEM):
        assert access.sees_form(sees, **where), sees
    for blind in (ADMIN, OTHER_RESIDENT, OTHER_OFFICER, OTHER_SYSTEM, account("resident")):
        assert not access.sees_form(blind, **where), blind


def test_every_kind_of_token_needs_the_requests_scopes() -> None:
    # The dependencies on every route: reads need requests:read, writes requests:write.
    scopes.refuse_missing(READ_ONLY_SYSTEM, (scopes.REQUESTS_READ,))
    scopes.refuse_missing(SYSTEM, (scopes.REQUESTS_WRITE,))
    with pytest.raises(scopes.InsufficientScope, match="requests:write"):
        scopes.refuse_missing(READ_ONLY_SYSTEM, (scopes.REQUESTS_WRITE,))
    with pytest.raises(scopes.InsufficientScope, match="requests:read"):
        scopes.refuse_missing(system("openid"), (scopes.REQUESTS_READ,))
    # People's tokens too: an officer's token needs the scope beside the role.
    with pytest.raises(scopes.InsufficientScope, match="requests:write"):
        scopes.refuse_missing(OFFICER, (scopes.REQUESTS_WRITE,))


@pytest.mark.parametrize("action", list(CONTRACT))
def test_who_may_take_each_action(action: str) -> None:
    transition = TRANSITIONS[action]
    request = request_in()
    if transition.actor is Actor.officer:
        allowed = [OFFICER, SYSTEM]
        refused = [APPLICANT_P, ADMIN, OTHER_OFFICER, OTHER_SYSTEM]
    else:
        allowed = [APPLICANT_P]
        refused = [OTHER_RESIDENT, OFFICER, SYSTEM, ADMIN]
    for principal in allowed:
        access.check_may_take(principal, transition, request)
    for principal in refused:
        with pytest.raises(Forbidden):
            access.check_may_take(principal, transition, request)
    if transition.actor is Actor.officer:
        with pytest.raises(NotYourRole):
            access.check_may_take(APPLICANT_P, transition, request)


def test_the_history_names_the_account_or_the_agency_system() -> None:
    assert access.actor_of(SYSTEM) == ("agency-demo", "agency_system")
    assert access.actor_of(OFFICER) == (OFFICER.subject, "officer")
    assert access.actor_of(APPLICANT_P) == (str(APPLICANT), "resident")
    both = account("officer", "admin")
    assert access.actor_of(both) == (both.subject, "officer")
    roleless = account(who=APPLICANT)
    assert access.actor_of(roleless) == (str(APPLICANT), "unknown")
