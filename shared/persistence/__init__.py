"""Database engines, table conventions and the unit-of-work base every service builds on.

The unit of work lives in :mod:`shared.persistence.unit_of_work` (import it from there).
"""

from shared.persistence.engine import create_engine, is_sqlite, read_transaction
from shared.persistence.metadata import PLATFORM_METADATA, UTCDateTime, new_metadata, utcnow

__all__ = [
    "PLATFORM_METADATA",
    "UTCDateTime",
    "create_engine",
    "is_sqlite",
    "new_metadata",
    "read_transaction",
    "utcnow",
]
