"""Annotated dependencies of the identity handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from identity.passwords import Passwords
from identity.settings import IdentitySettings


def _settings(request: Request) -> IdentitySettings:
    settings: IdentitySettings = request.app.state.settings
    return settings


def _passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


SettingsDep = Annotated[IdentitySettings, Depends(_settings)]
PasswordsDep = Annotated[Passwords, Depends(_passwords)]
