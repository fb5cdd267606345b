"""The notifications service's settings: the shared variables, this service's defaults,
and where and how it sends email."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet
from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from portal_shared.settings import DemoSecretInProduction, ServiceSettings

# Public in this repository: production refuses to start with it.
DEMO_WEBHOOK_SECRET_KEY = "uSNpoRS0UgbDz_rIioo5MqnuuktJg6fkqEg8vKoEQlE="  # noqa: S105


class NotificationsSettings(ServiceSettings):
    # An empty variable means "not set" (docker-compose.yml passes SMTP_USERNAME and
    # SMTP_PASSWORD empty when the relay needs no login: "" would make the sender log in).
    model_config = SettingsConfigDict(env_ignore_empty=True)

    service_name: str = "notifications"
    port: int = 8005
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/notifications"

    # The SMTP relay every email goes to (make run: the runner's local sink).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = Field(default=10.0, gt=0)
    # How many SMTP connections the sender sends over at once.
    smtp_connections: int = Field(default=4, ge=1, le=32)
    email_from: str = "Baikonur portal <no-reply@portal.baikonur.kz>"
    # A replica can serve the inbox only, with the sender in a worker process.
    run_sender: bool = True
    # How often the sender looks for due emails when nothing wakes it (retries, and emails
    # another process recorded), and how many it takes at once.
    email_poll_seconds: float = Field(default=0.2, gt=0, le=60)
    email_batch: int = Field(default=100, ge=1, le=1000)
    # A temporary failure is retried after base * 2^(attempts-1) seconds, at most max...
    email_backoff_seconds: float = Field(default=1.0, gt=0)
    email_backoff_max_seconds: float = Field(default=60.0, gt=0)
    # ...until the email is this old; then it is a permanent failure.
    email_give_up_seconds: float = Field(default=72 * 3600.0, gt=0)
    # A `sending` row whose sender vanished is tried again after this long.
    email_lease_seconds: float = Field(default=60.0, gt=0)
    # An email whose person identity had not yet described here is held this long for
    # their address; held longer, it is dropped (the inbox message stays): see `held.py`.
    email_hold_seconds: float = Field(default=7 * 86400.0, gt=0)

    # Webhooks: the Fernet keys the subscriptions' signing secrets are sealed with at rest
    # (webhooks/sealing.py): the first seals, all open. A key: `Fernet.generate_key()`.
    webhook_secret_keys: list[str] = Field(default=[DEMO_WEBHOOK_SECRET_KEY], min_length=1)
    # Webhooks: `http` to a loopback address is callable only where this is set (demo, tests).
    webhooks_allow_http_loopback: bool = False
    # How often the delivery worker looks for due deliveries, how many it sends at once.
    webhooks_poll_seconds: float = Field(default=0.1, gt=0, le=60)
    webhooks_batch: int = Field(default=200, ge=1, le=5000)
    # How many of a round's deliveries are sent at once, and at most to one host (each on a
    # connection of its own, kept open between rounds).
    webhooks_concurrency: int = Field(default=32, ge=1, le=1000)
    webhooks_host_connections: int = Field(default=8, ge=1, le=100)
    # The waits after each failed attempt (Standard Webhooks' suggestion), jittered +-20%;
    # after the last, the delivery is given up.
    webhooks_retry_seconds: list[float] = Field(
        default=[5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0], min_length=1
    )
    webhooks_connect_timeout: float = Field(default=5.0, gt=0)
    webhooks_read_timeout: float = Field(default=15.0, gt=0)
    # A round records its outcomes when all are in or after this long, whichever is first;
    # attempts still waiting (a slow endpoint, up to the read timeout) are recorded as each
    # group ends, so they hold up neither the round nor the other endpoints' next deliveries.
    webhooks_settle_seconds: float = Field(default=1.0, gt=0, le=60)
    # A delivery being sent is tried again after this long if its worker vanished.
    webhooks_lease_seconds: float = Field(default=60.0, gt=0)
    # An endpoint whose every attempt has failed for this long is disabled.
    webhooks_disable_after_seconds: float = Field(default=5 * 86400.0, gt=0)

    @field_validator("webhook_secret_keys")
    @classmethod
    def _fernet_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            try:
                Fernet(key.encode())
            except ValueError as exc:
                raise ValueError("a WEBHOOK_SECRET_KEYS entry is not a Fernet key") from exc
        return keys

    @model_validator(mode="after")
    def _refuse_demo_key(self) -> NotificationsSettings:
        if self.environment == "production" and DEMO_WEBHOOK_SECRET_KEY in self.webhook_secret_keys:
            raise DemoSecretInProduction("production refuses the demo value of WEBHOOK_SECRET_KEYS")
        return self


@lru_cache
def get_settings() -> NotificationsSettings:
    return NotificationsSettings()
