"""The directory service's tables. Its own registry keeps them apart from other services'."""

from __future__ import annotations

from sqlmodel import SQLModel

from portal_shared.db import new_registry


class Base(SQLModel, registry=new_registry()):
    """Base of every table in the directory database."""
