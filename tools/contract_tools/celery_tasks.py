"""Read a service's Celery task messages from its Celery app: names, routes and argument schemas.

A service with Celery tasks exposes its app as ``app`` in ``<service>/entrypoints/celery_app.py`` (building it
must not connect) and names its tasks ``<service>.<task>``. Routes come from the app's own router and queues; argument schemas from the task
functions' type hints (pydantic), so the catalogue is derived from the code that dispatches and runs them.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from celery import Celery
from pydantic import TypeAdapter

from shared.contracts.catalogue import TaskParameter, TaskRoute

CELERY_MODULE = "{service}.entrypoints.celery_app"
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _schema(annotation: Any) -> dict[str, Any]:
    if annotation is Any:
        return {}
    schema = TypeAdapter(annotation).json_schema()
    if "$defs" in schema:
        # Nested models would need their own components; task arguments are ids, so say what it is instead.
        return {"description": f"{annotation!r} (see the task's code)"}
    return schema


def task_routes(service: str, app: Celery) -> tuple[TaskRoute, ...]:
    """Every task ``<service>.*`` registered on ``app``, routed as the app routes it.

    Only the service's own names count: Celery hands every "shared" task to every app in the process.
    """
    routes = []
    for name, task in sorted(app.tasks.items()):
        if not name.startswith(f"{service}."):
            continue
        queue = app.amqp.router.route({}, name)["queue"]
        hints = typing.get_type_hints(task.run)
        parameters = tuple(
            TaskParameter(
                name=parameter.name,
                schema=_schema(hints.get(parameter.name, Any)),
                required=parameter.default is inspect.Parameter.empty,
            )
            for parameter in inspect.signature(task.run).parameters.values()
            if parameter.kind in _POSITIONAL
        )
        doc = inspect.getdoc(task.run) or ""
        routes.append(
            TaskRoute(
                service=service,
                name=name,
                exchange=queue.exchange.name,
                exchange_type=queue.exchange.type,
                routing_key=queue.routing_key or queue.name,
                queue=queue.name,
                parameters=parameters,
                summary=doc.split("\n\n")[0].replace("\n", " "),
            )
        )
    return tuple(routes)
