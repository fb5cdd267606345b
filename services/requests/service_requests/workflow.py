"""The request workflow: statuses, actions, who may take each and from where.

Pure rules with no I/O, so they are tested on their own and read as the contract's table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service_requests.errors import ActionNotAllowed


class Status(StrEnum):
    submitted = "submitted"
    in_review = "in_review"
    needs_info = "needs_info"
    approved = "approved"
    rejected = "rejected"
    completed = "completed"
    cancelled = "cancelled"


# Statuses in which the agency still owes the resident a result: the overdue check
# looks only at these (the migration's partial index lists the same ones).
OPEN_STATUSES = frozenset({Status.submitted, Status.in_review, Status.needs_info, Status.approved})


class Actor(StrEnum):
    """Which side of the workflow takes an action."""

    officer = "officer"  # an officer of the responsible agency, or its agency system
    resident = "resident"  # the applicant


@dataclass(frozen=True)
class Transition:
    action: str
    actor: Actor
    sources: frozenset[Status]
    target: Status
    # The past-tense event name: requests.request.<event>.v1
    event: str


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition(
            "accept", Actor.officer, frozenset({Status.submitted}), Status.in_review, "accepted"
        ),
        Transition(
            "request_info",
            Actor.officer,
            frozenset({Status.in_review}),
            Status.needs_info,
            "info_requested",
        ),
        Transition(
            "resubmit",
            Actor.resident,
            frozenset({Status.needs_info}),
            Status.in_review,
            "resubmitted",
        ),
        Transition(
            "approve", Actor.officer, frozenset({Status.in_review}), Status.approved, "approved"
        ),
        Transition(
            "reject", Actor.officer, frozenset({Status.in_review}), Status.rejected, "rejected"
        ),
        Transition(
            "complete", Actor.officer, frozenset({Status.approved}), Status.completed, "completed"
        ),
        Transition(
            "cancel",
            Actor.resident,
            frozenset({Status.submitted, Status.in_review, Status.needs_info}),
            Status.cancelled,
            "cancelled",
        ),
    )
}

EVENT_NAMES = ("submitted", *(t.event for t in TRANSITIONS.values()), "overdue")


def allowed_from(status: Status) -> list[str]:
    """The actions that may be taken from `status`, for error messages."""
    return [t.action for t in TRANSITIONS.values() if status in t.sources]


def take(action: str, current: Status) -> Transition:
    """The transition `action` makes from `current`, or ActionNotAllowed (409) naming what
    is allowed now."""
    transition = TRANSITIONS[action]
    if current not in transition.sources:
        allowed = allowed_from(current)
        raise ActionNotAllowed(
            message_key="error.action-not-allowed"
            if allowed
            else "error.action-not-allowed-finished",
            params={"action": action, "status": current, "allowed": ", ".join(allowed)},
            status_now=current.value,
        )
    return transition
