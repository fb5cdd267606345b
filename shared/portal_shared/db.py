"""Async engine, the per-request session that owns the transaction, and model bases.

Every service has its own database and its own SQLAlchemy `MetaData` (so the
services' tables never meet in one registry, even when their tests share a
process), with one naming convention so migrations name constraints the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import registry

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_registry() -> registry:
    """A registry with its own metadata, for `class Base(SQLModel, registry=new_registry())`."""
    return registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # A connection broken by a database restart is noticed before use, so
        # a recovered database serves the next request instead of failing it.
        pool_pre_ping=True,
        pool_recycle=1800,
        echo=echo,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session, session.begin():
        yield session


# scope="function" closes the transaction before the response is sent, so a
# failed commit becomes an error response rather than a lost write behind a 2xx.
SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]


def asyncpg_dsn(url: str) -> str:
    """The plain libpq-style DSN for asyncpg from a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
