"""Each service's outbox seen from outside: pending count and oldest age, failed rows, retry or discard.

The CLI reaches each service's own database (``<SERVICE>_DATABASE_URL``, the same variable the service reads,
or the file ``make run`` writes) and calls the outbox's admin functions; it never goes through a service.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from dotenv import dotenv_values
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

T = TypeVar("T")


def database_urls(
    services: Iterable[str], env_file: Path, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``{service: database URL}`` from the environment, falling back to ``env_file``; services without one skipped."""
    environ = os.environ if environ is None else environ
    from_file = (
        {k: v for k, v in dotenv_values(env_file).items() if v is not None} if env_file.exists() else {}
    )
    urls: dict[str, str] = {}
    for service in services:
        key = f"{service.upper()}_DATABASE_URL"
        url = environ.get(key) or from_file.get(key)
        if url:
            urls[service] = url
    return urls


async def with_engine(url: str, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work`` with a short-lived engine on ``url`` (one connection, disposed afterwards)."""
    engine = (
        create_async_engine(url, pool_size=1, max_overflow=0)
        if not url.startswith("sqlite")
        else create_async_engine(url)
    )
    try:
        return await work(engine)
    finally:
        await engine.dispose()


def admin() -> Any:
    """The outbox's admin functions (imported late: only these commands need them)."""
    from shared.outbox import admin as outbox_admin

    return outbox_admin
