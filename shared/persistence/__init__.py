"""Database engines, table conventions and the unit-of-work base every service builds on."""

from shared.persistence.engine import create_engine, is_sqlite, session_factory
from shared.persistence.metadata import PLATFORM_METADATA, UTCDateTime, new_metadata, utcnow
from shared.persistence.repository import TrackingRepository
from shared.persistence.unit_of_work import Aggregate, AlreadyHandled, SqlUnitOfWork

__all__ = [
    "PLATFORM_METADATA",
    "Aggregate",
    "AlreadyHandled",
    "SqlUnitOfWork",
    "TrackingRepository",
    "UTCDateTime",
    "create_engine",
    "is_sqlite",
    "new_metadata",
    "session_factory",
    "utcnow",
]
