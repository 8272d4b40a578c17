import json
from pathlib import Path
from typing import Any

from contract_tools import artefacts, parser
from contract_tools.declarations import Loaded
from contract_tools.html import render_html

from shared.contracts.asyncapi import build_document


def committed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(artefacts.ASYNCAPI.read_text())
    return document


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_committed_asyncapi_is_up_to_date_when_generated_from_the_code(loaded: Loaded) -> None:
    assert artefacts.ASYNCAPI.read_text() == artefacts.asyncapi_text(loaded.catalogue), (
        "contracts/asyncapi.json is out of date: run `make contract-update` and commit contracts/"
    )


def test_every_contract_is_a_message_with_its_payload_schema_when_generated(loaded: Loaded) -> None:
    document = build_document(loaded.catalogue, version="test")

    messages = document["components"]["messages"]
    tasks = {task.key for task in loaded.catalogue.tasks()}
    assert set(messages) - tasks == {model.message_type for model in loaded.catalogue.contracts}
    for model in loaded.catalogue.contracts:
        message = messages[model.message_type]
        payload = resolve(document, message["payload"]["$ref"])
        assert set(payload["properties"]) == set(model.model_fields)
        assert message["bindings"]["amqp"]["messageType"] == model.message_type
        assert message["x-warren-producer"] == model.producer


def test_operations_say_who_sends_and_who_receives_when_generated(loaded: Loaded) -> None:
    document = build_document(loaded.catalogue, version="test")
    operations = document["operations"]

    for model in loaded.catalogue.contracts:
        send = operations[f"{model.producer}.send.{model.routing_key()}"]
        assert send["action"] == "send"
        assert send["x-warren-service"] == model.producer
        channel = resolve(document, send["channel"]["$ref"])
        assert channel["bindings"]["amqp"]["exchange"]["name"] == model.exchange()
        assert channel["address"] == model.routing_key()
    for handler in loaded.catalogue.handlers():
        receive = operations[f"{handler.name}.receive"]
        assert receive["action"] == "receive"
        assert receive["x-warren-service"] == handler.service
        channel = resolve(document, receive["channel"]["$ref"])
        assert channel["bindings"]["amqp"]["queue"]["name"] == handler.name
        assert channel["x-warren-bindings"] == [
            {"exchange": binding.exchange, "pattern": binding.pattern} for binding in handler.bindings
        ]
        received = {resolve(document, ref["$ref"])["$ref"].rsplit("/", 1)[1] for ref in receive["messages"]}
        assert received == handler.accepted_types()
    for task in loaded.catalogue.tasks():
        send = operations[f"{task.service}.send.{task.key}"]
        assert (
            resolve(document, send["channel"]["$ref"])["bindings"]["amqp"]["exchange"]["name"]
            == task.exchange
        )
        receive = operations[f"{task.queue}.receive"]
        assert resolve(document, receive["channel"]["$ref"])["address"] == task.queue


def test_official_parser_accepts_the_committed_document_when_validating() -> None:
    result = parser.validate(artefacts.ASYNCAPI)

    assert result.returncode == 0, result.stderr
    assert "valid AsyncAPI 3.0.0" in result.stdout


def test_official_parser_rejects_a_document_when_a_reference_dangles(tmp_path: Path) -> None:
    document = committed()
    send = next(op for op in document["operations"].values() if op["action"] == "send")
    send["messages"][0]["$ref"] += "-missing"
    broken = tmp_path / "asyncapi.json"
    broken.write_text(json.dumps(document))

    result = parser.validate(broken)

    assert result.returncode == 1
    assert "does not exist" in result.stderr


def test_the_html_page_lists_every_channel_and_message_when_rendered(loaded: Loaded) -> None:
    document = build_document(loaded.catalogue, version="test")

    page = render_html(document)

    for channel in document["channels"].values():
        assert f"<code>{channel['address']}</code>" in page
    for key in document["components"]["messages"]:
        assert f"<h3 id='{key}'>" in page
    assert "<code>customer.email</code>" in page  # nested fields are listed with their path
