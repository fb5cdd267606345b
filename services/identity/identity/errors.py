"""The identity service's typed errors, rendered as problem+json by the shared handler."""

from __future__ import annotations

from portal_shared.errors import Conflict, NotFound, TooManyRequests, ValidationFailed


class AccountNotFound(NotFound):
    slug = "account-not-found"
    title = "Account not found"


class ClientNotFound(NotFound):
    slug = "client-not-found"
    title = "OAuth client not found"


class AccountExists(Conflict):
    slug = "account-exists"
    title = "An account with these details exists"


class ClientExists(Conflict):
    slug = "client-exists"
    title = "An OAuth client with this id exists"


class InvalidIin(ValidationFailed):
    slug = "invalid-iin"
    title = "Invalid IIN"


class WeakPassword(ValidationFailed):
    slug = "weak-password"
    title = "Password too weak"


class UnknownAgency(ValidationFailed):
    slug = "unknown-agency"
    title = "Unknown or inactive agency"


class InvalidRoles(ValidationFailed):
    slug = "invalid-roles"
    title = "Invalid roles"


class InvalidClient(ValidationFailed):
    slug = "invalid-client-registration"
    title = "Invalid client registration"


class RegistrationThrottled(TooManyRequests):
    slug = "registration-throttled"
    title = "Too many registrations that matched an existing account"
