"""A repository base that remembers the aggregates it hands out, so the unit of work can collect their events."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

A = TypeVar("A")


class TrackingRepository(Generic[A]):
    """Subclass per aggregate, built on the unit of work's connection; call :meth:`track` on everything
    ``add``-ed or loaded."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.seen: dict[Any, A] = {}

    def track(self, aggregate: A) -> A:
        """Remember ``aggregate`` (keyed by its ``id``) and return it."""
        self.seen[getattr(aggregate, "id", id(aggregate))] = aggregate
        return aggregate
