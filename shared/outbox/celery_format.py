"""Celery task messages (protocol 2, JSON) built by hand, so a task dispatch can wait in the outbox.

A Celery worker cannot tell these from ``task.delay()``: same headers, same ``[args, kwargs, embed]`` body,
``correlation_id`` = task id. Building them here keeps Celery's app and broker connection out of the
transaction: the row commits with the state, and the relay publishes it later like any other row.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping, Sequence
from reprlib import Repr
from typing import Any

_REPR = Repr()
_REPR.maxstring = 1024
_REPR.maxother = 1024
_REPR.maxlist = 50
_REPR.maxdict = 50


def celery_headers(
    *,
    task: str,
    task_id: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    root_id: str | None = None,
    parent_id: str | None = None,
) -> dict[str, Any]:
    """The protocol-2 headers a worker reads to find, identify and describe the task."""
    return {
        "lang": "py",
        "task": task,
        "id": task_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": root_id or task_id,
        "parent_id": parent_id,
        "argsrepr": _REPR.repr(tuple(args)),
        "kwargsrepr": _REPR.repr(dict(kwargs)),
        "origin": f"warren-outbox@{socket.gethostname()}",
        "ignore_result": False,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    }


def celery_body(args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """``[args, kwargs, embed]`` as JSON: what the worker passes to the task function."""
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    return json.dumps([list(args), dict(kwargs), embed], separators=(",", ":"), default=str)
