"""Who may see and do what with requests: the visibility filter, agency scoping, and who
may take each workflow action.

Pure rules over a `Principal` (plus the SQL condition that applies the visibility rule in
a query), so they are tested without HTTP or a database. The dependencies at the end
require the scopes (portal_shared.scopes), for every kind of token: reading needs
requests:read, submitting and acting requests:write.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import sqlalchemy as sa
from fastapi import Depends
from sqlmodel import col

from portal_shared.auth import Principal
from portal_shared.scopes import (
    DOCUMENTS_READ,
    DOCUMENTS_WRITE,
    REQUESTS_READ,
    REQUESTS_WRITE,
    require_scope,
)
from service_requests.errors import NotYourRole
from service_requests.models import ServiceRequest
from service_requests.workflow import Actor, Transition


def is_agency_system(principal: Principal) -> bool:
    """A client-credentials token bound to an agency: that agency's own system."""
    return principal.is_client and principal.agency_id is not None


def visible(principal: Principal) -> sa.ColumnElement[bool]:
    """The SQL condition for the requests a caller may see: an admin all, an officer or
    agency system its agency's, a resident their own, anyone else none."""
    if principal.has_role("admin"):
        return sa.true()
    conditions: list[sa.ColumnElement[bool]] = []
    if principal.agency_id is not None and (
        principal.has_role("officer") or is_agency_system(principal)
    ):
        conditions.append(col(ServiceRequest.agency_id) == principal.agency_id)
    if principal.has_role("resident") and principal.account_id is not None:
        conditions.append(col(ServiceRequest.applicant_id) == principal.account_id)
    return sa.or_(*conditions) if conditions else sa.false()


def acts_for_agency(principal: Principal, agency_id: UUID) -> bool:
    """An officer of the agency, or the agency's system."""
    if principal.agency_id != agency_id:
        return False
    return principal.has_role("officer") or is_agency_system(principal)


def is_applicant(principal: Principal, applicant_id: UUID) -> bool:
    return principal.has_role("resident") and principal.account_id == applicant_id


def sees_form(principal: Principal, *, agency_id: UUID, applicant_id: UUID) -> bool:
    # Administrators oversee the workflow, not the residents' answers: they get no form data.
    return is_applicant(principal, applicant_id) or acts_for_agency(principal, agency_id)


def check_may_take(principal: Principal, transition: Transition, request: ServiceRequest) -> None:
    """Refuse (403) a caller who sees the request but is not the side that takes the action:
    the responsible agency (an officer, or its system), or the applicant. The scope
    requests:write was required before (WriterDep)."""
    if transition.actor is Actor.officer:
        if not acts_for_agency(principal, request.agency_id):
            raise NotYourRole(
                message_key="error.officers-action", params={"action": transition.action}
            )
    elif not is_applicant(principal, request.applicant_id):
        raise NotYourRole(
            message_key="error.applicants-action", params={"action": transition.action}
        )


def actor_of(principal: Principal) -> tuple[str, str]:
    """Who to write into the history: the account, or the agency system's client id."""
    if principal.is_client:
        return principal.client_id, "agency_system"
    for role in ("officer", "resident", "admin"):
        if principal.has_role(role):
            return principal.subject, role
    return principal.subject, "unknown"


# A caller who may read requests at all (what each sees is `visible`'s business).
ReaderDep = Annotated[Principal, Depends(require_scope(REQUESTS_READ))]
# A caller who may act on requests (which actions is `check_may_take`'s business).
WriterDep = Annotated[Principal, Depends(require_scope(REQUESTS_WRITE))]
ApplicantDep = Annotated[Principal, Depends(require_scope(REQUESTS_WRITE, roles=("resident",)))]
# Documents: read by whoever may see them (access rules below), uploaded by residents (their
# applications' documents) and officers (results).
DocumentReaderDep = Annotated[Principal, Depends(require_scope(DOCUMENTS_READ))]
DocumentWriterDep = Annotated[
    Principal, Depends(require_scope(DOCUMENTS_WRITE, roles=("resident", "officer")))
]
