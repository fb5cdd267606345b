"""Signing secrets sealed at rest.

A webhook secret must be readable by the delivery worker (HMAC needs the key itself, so it
cannot be hashed like a password), but whoever reads the database, a backup or a replica
must not be able to sign deliveries that agency systems would trust. Secrets are therefore
stored encrypted with Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under the
keys of `WEBHOOK_SECRET_KEYS`: the first seals, every one of them opens, so the key is
rotated by putting a new key first, then dropping the old one once every secret has been
rotated (or re-created) under the new one.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from notifications.settings import NotificationsSettings

SEALED_PREFIX = "fernet:"
# How a secret was written before it was sealed (rows of a demo database from before):
# opened as it is, and sealed on its next rotation.
PLAIN_PREFIX = "whsec_"


class SecretUnreadable(RuntimeError):
    """A sealed secret that none of the configured keys opens: the key it was sealed
    under was dropped from WEBHOOK_SECRET_KEYS too early."""


class SecretSeal:
    def __init__(self, keys: tuple[str, ...]) -> None:
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def seal(self, secret: str) -> str:
        return SEALED_PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        if stored.startswith(PLAIN_PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored.removeprefix(SEALED_PREFIX).encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable("no key of WEBHOOK_SECRET_KEYS opens this secret") from exc


@lru_cache(maxsize=4)
def _seal(keys: tuple[str, ...]) -> SecretSeal:
    return SecretSeal(keys)


def secret_seal(settings: NotificationsSettings) -> SecretSeal:
    """The seal of these settings' keys (built once per set of keys)."""
    return _seal(tuple(settings.webhook_secret_keys))
