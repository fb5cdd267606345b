"""Password hashing (argon2id) and the minimum strength a new password must have.

Hashing costs tens of milliseconds of CPU by design, so callers run it in a
thread. A sign-in for an unknown account still verifies against a dummy hash,
so the answer takes as long as for a real one.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from portal_shared.i18n import Message

# A few of the most common passwords; length and variety rules catch the rest.
_COMMON = frozenset(
    {
        "password123",
        "qwerty12345",
        "1234567890",
        "123456789012",
        "administrator",
        "passw0rd123",
        "iloveyou123",
        "qwertyuiop",
    }
)


class Passwords:
    def __init__(self, *, memory_kib: int, time_cost: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID
        )
        self._dummy = self._hasher.hash("no account has this password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True if `password` matches; with no hash, spend the same time and say no."""
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and bool(
                password_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def password_problem(password: str, *, min_length: int, personal: list[str]) -> Message | None:
    """Why `password` is too weak (in every language), or None. `personal` holds the
    account's IIN and phone."""
    if len(password) < min_length:
        return Message("validation.password-short", {"limit": min_length})
    if len(password) > 256:
        return Message("validation.password-long", {"limit": 256})
    classes = sum(
        (
            any(c.isalpha() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < 2 or len(set(password)) < 5:
        return Message("validation.password-variety")
    lowered = password.lower()
    if lowered in _COMMON:
        return Message("validation.password-common")
    for item in personal:
        # The IIN and phone number are printed on documents; digits of them are guessable.
        digits = item.lstrip("+")
        if len(digits) >= 6 and digits[-6:] in lowered:
            return Message("validation.password-personal")
    return None
