"""Table conventions every service shares: constraint naming, a UTC timestamp type, the platform tables' metadata.

A service declares its own tables on its own :class:`~sqlalchemy.MetaData` from :func:`new_metadata`
(``class Base(DeclarativeBase): metadata = new_metadata()`` for ORM mapping, or Core ``Table`` objects). The outbox
and inbox tables live on :data:`PLATFORM_METADATA`; a service's alembic env targets both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names, so alembic can drop and alter constraints on every database (SQLite included).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A MetaData with Warren's naming convention, one per service."""
    return MetaData(naming_convention=NAMING_CONVENTION)


# The outbox, its relay lease and the inbox: created in every service database by shared.outbox.migration.
PLATFORM_METADATA = new_metadata()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores no offset; this puts UTC back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def utcnow() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC)
