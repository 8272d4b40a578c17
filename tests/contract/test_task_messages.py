from pathlib import Path

from celery import Celery, Task
from contract_tools import parser
from contract_tools.celery_tasks import task_routes
from kombu import Exchange, Queue

from shared.contracts import asyncapi
from shared.contracts.catalogue import Catalogue, ServiceDeclaration, TaskParameter, TaskRoute
from shared.contracts.evolution import compare, task_snapshot
from shared.messaging.topology import Topology


def fake_app() -> Celery:
    app = Celery("depot", set_as_current=False)
    exchange = Exchange("depot.tasks", type="topic", durable=True)
    app.conf.update(
        task_queues=[Queue(name, exchange, routing_key=name) for name in ("depot.ship", "depot.maintenance")],
        task_routes={
            "depot.ship_parcel": {"queue": "depot.ship"},
            "depot.sweep": {"queue": "depot.maintenance"},
        },
        task_default_queue="depot.maintenance",
    )

    @app.task(name="depot.ship_parcel", bind=True, acks_late=True, shared=False)
    def ship_parcel(self: Task, parcel_id: str, attempt: int = 0) -> str:
        """Hand one parcel to the carrier."""
        return parcel_id

    @app.task(name="depot.sweep", shared=False)
    def sweep() -> int:
        return 0

    return app


def test_task_routes_follow_the_apps_router_and_signatures_when_read_from_celery() -> None:
    ship, sweep = task_routes("depot", fake_app())

    assert ship == TaskRoute(
        service="depot",
        name="depot.ship_parcel",
        exchange="depot.tasks",
        routing_key="depot.ship",
        queue="depot.ship",
        parameters=(
            TaskParameter("parcel_id", {"type": "string"}, required=True),
            TaskParameter("attempt", {"type": "integer"}, required=False),
        ),
        summary="Hand one parcel to the carrier.",
        exchange_type="topic",
    )
    assert (sweep.name, sweep.queue, sweep.parameters) == ("depot.sweep", "depot.maintenance", ())


def test_task_messages_are_valid_asyncapi_when_catalogued(tmp_path: Path) -> None:
    service = ServiceDeclaration(
        name="depot", topology=Topology(service="depot"), tasks=task_routes("depot", fake_app())
    )
    document = asyncapi.build_document(Catalogue.build([service], []), version="test")
    path = tmp_path / "asyncapi.json"
    path.write_text(asyncapi.render(document))

    result = parser.validate(path)

    assert result.returncode == 0, result.stderr
    ship = document["components"]["messages"]["task.depot.ship_parcel"]
    args = ship["payload"]["items"][0]
    assert [item["title"] for item in args["items"]] == ["parcel_id", "attempt"]
    assert (args["minItems"], args["maxItems"]) == (1, 2)
    assert document["operations"]["depot.send.task.depot.ship_parcel"]["action"] == "send"
    assert document["operations"]["depot.maintenance.receive"]["action"] == "receive"


def route(*parameters: TaskParameter) -> TaskRoute:
    return TaskRoute("depot", "depot.ship_parcel", "depot.tasks", "depot.ship", "depot.ship", parameters)


PARCEL = TaskParameter("parcel_id", {"type": "string"})
ATTEMPT = TaskParameter("attempt", {"type": "integer"}, required=False)
CARRIER = TaskParameter("carrier", {"type": "string"})


def test_appending_an_optional_task_argument_is_compatible_when_queued_tasks_lack_it() -> None:
    changes = compare(
        "task.depot.ship_parcel", task_snapshot(route(PARCEL)), task_snapshot(route(PARCEL, ATTEMPT))
    )

    assert [(c.path, c.breaking) for c in changes] == [("attempt", False)]


def test_reordering_task_arguments_is_breaking_when_they_are_positional() -> None:
    changes = compare(
        "task.depot.ship_parcel", task_snapshot(route(PARCEL, CARRIER)), task_snapshot(route(CARRIER, PARCEL))
    )

    assert [str(c) for c in changes] == [
        "BREAKING: task.depot.ship_parcel: positional arguments reordered from ['parcel_id', 'carrier'] to "
        "['carrier', 'parcel_id']"
    ]


def test_inserting_a_task_argument_before_others_is_breaking_when_it_shifts_positions() -> None:
    inserted = TaskParameter("priority", {"type": "integer"}, required=False)
    changes = compare(
        "task.depot.ship_parcel",
        task_snapshot(route(PARCEL, ATTEMPT)),
        task_snapshot(route(inserted, PARCEL, ATTEMPT)),
    )

    assert any(c.breaking and "reordered" in c.detail for c in changes)
