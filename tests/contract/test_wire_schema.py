"""The wire's JSON Schema: current, complete, closed, and made from WIRE_TYPES alone."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from pydantic import BaseModel
from test_layering import PACKAGE_DIR, imported_modules, module_name
from typing_extensions import TypedDict

from sockscope import events
from sockscope.contract import schema as contract_schema
from sockscope.contract.lab import SocketSnapshot
from sockscope.contract.schema import CLIENT_TYPES, WIRE_TYPES, wire_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "frontend/src/protocol/wire.schema.json"

# Every shape the issue lists, by the name the front end knows it by.
SHAPES = {
    "LabEvent", "LabSnapshot", "SocketSnapshot", "BlockedCallInfo", "Figures", "SocketInfo",
    "LinkState", "FlowState", "NetworkState", "ErrorDetail", "ErrorBody", "CommandAnswer",
    "ServerMessage", "SnapshotMessage", "EventsMessage", "CommandResultMessage", "ErrorMessage",
    "Gap", "EventsPage", "LabCreated", "ServerInfo", "Health", "LessonOutline",
    "LessonDefinition", "LessonStep", "Prediction", "LessonCheck", "LessonState",
    "LessonStepAnswer", "CheckOutcome", "Command",
}  # fmt: skip


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return wire_schema()


@pytest.fixture(scope="module")
def defs(document: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = document["$defs"]
    return found


def kind_of(cls: type[Any]) -> str:
    kind: str = cls.__dataclass_fields__["kind"].default
    return kind


def refs(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(refs(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
    return found.union(*(refs(value) for value in node.values()))


def test_the_committed_schema_is_current(document: dict[str, Any]) -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == document, f"{SCHEMA_FILE.name} is stale: run `make types`"


def test_every_listed_shape_is_defined(defs: dict[str, Any]) -> None:
    assert SHAPES - set(defs) == set()
    assert {name for name, _ in (*WIRE_TYPES, *CLIENT_TYPES)} <= set(defs)


def test_every_event_kind_is_in_the_union_in_order(defs: dict[str, Any]) -> None:
    members = [
        ref.removeprefix("#/$defs/") for ref in (m["$ref"] for m in defs["LabEvent"]["oneOf"])
    ]
    assert members == [cls.__name__ for cls in events.EVENT_TYPES]
    for cls in events.EVENT_TYPES:
        kind = defs[cls.__name__]["properties"]["kind"]
        assert kind["const"] == kind_of(cls)
    mapping = defs["LabEvent"]["discriminator"]["mapping"]
    assert list(mapping) == [kind_of(cls) for cls in events.EVENT_TYPES]
    assert len(set(mapping)) == len(events.EVENT_TYPES) == 14


def test_every_field_of_a_record_or_event_is_required(defs: dict[str, Any]) -> None:
    # to_wire() sends every field, defaults too: the front end may rely on each.
    for cls in (*events.RECORD_TYPES, *events.EVENT_TYPES):
        names = [f.name for f in dataclasses.fields(cls)]
        assert defs[cls.__name__]["required"] == names, cls.__name__
        assert list(defs[cls.__name__]["properties"]) == names, cls.__name__


def test_objects_are_closed_but_the_command(defs: dict[str, Any]) -> None:
    open_ = {
        n for n, d in defs.items() if "properties" in d and d["additionalProperties"] is not False
    }
    assert open_ == set()
    assert len([d for d in defs.values() if d.get("additionalProperties") is False]) > 30


def test_no_reference_dangles_and_unions_are_named(document: dict[str, Any]) -> None:
    found = refs(document)
    assert found, "the walker sees no $ref at all"
    assert {ref.removeprefix("#/$defs/") for ref in found} <= set(document["$defs"])
    # A list of events refers to the named union instead of spelling it out again.
    assert document["$defs"]["CommandAnswer"]["properties"]["events"]["items"] == {
        "$ref": "#/$defs/LabEvent"
    }
    assert document["$defs"]["LinkEvent"]["properties"]["link"] == {"$ref": "#/$defs/LinkState"}


def test_the_server_messages_are_told_apart_by_type(defs: dict[str, Any]) -> None:
    union = defs["ServerMessage"]
    assert union["discriminator"]["propertyName"] == "type"
    assert set(union["discriminator"]["mapping"]) == {
        "lab/snapshot", "events/batch", "command/result", "error"
    }  # fmt: skip


def test_a_snapshot_socket_is_socket_info_and_more(defs: dict[str, Any]) -> None:
    info = list(defs["SocketInfo"]["properties"])
    assert list(defs["SocketSnapshot"]["properties"]) == [*info, "figures", "blocked"]
    assert set(get_type_hints(SocketSnapshot)) == {*info, "figures", "blocked"}


def test_gap_keeps_its_keyword_name(defs: dict[str, Any]) -> None:
    assert defs["Gap"]["required"] == ["from", "to"]


def test_the_root_names_every_published_shape(document: dict[str, Any]) -> None:
    assert document["required"] == [name for name, _ in (*WIRE_TYPES, *CLIENT_TYPES)]
    assert document["x-schema-version"] == events.SCHEMA_VERSION


class Extra(TypedDict):
    """A shape added for the test."""

    n: int


class Renamed(BaseModel):
    """A class published under another name."""

    x: int


def test_one_entry_publishes_a_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        contract_schema, "WIRE_TYPES", [*WIRE_TYPES, ("Extra", Extra), ("Published", Renamed)]
    )
    defs = wire_schema()["$defs"]
    assert defs["Extra"]["required"] == ["n"]
    assert defs["Published"]["title"] == "Published"
    assert "Renamed" not in defs


def test_a_refinement_of_a_missing_field_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contract_schema, "REFINED", {("LinkEvent", "lnk"): "LinkState"})
    with pytest.raises(KeyError, match="no field 'lnk'"):
        wire_schema()


# The engine imports contract.lab; nothing the engine may reach needs pydantic.
STDLIB_SHAPES = ("sockscope.contract", "sockscope.contract.lab", "sockscope.contract.api",
                 "sockscope.contract.lessons")  # fmt: skip
MAY_IMPORT = ("sockscope.events", "sockscope.contract", "typing_extensions")


def outside(module: str, imports: set[str]) -> list[str]:
    return sorted(
        name
        for name in imports
        if name.partition(".")[0] not in sys.stdlib_module_names
        and not any(name == p or name.startswith(p + ".") for p in MAY_IMPORT)
    )


@pytest.mark.parametrize("module", STDLIB_SHAPES)
def test_the_shapes_need_only_the_standard_library(module: str) -> None:
    path = PACKAGE_DIR / (module.removeprefix("sockscope.").replace(".", "/") + ".py")
    if not path.exists():
        path = path.with_suffix("") / "__init__.py"
    assert module_name(path) == module
    assert outside(module, imported_modules(path.read_text(encoding="utf-8"), module)) == []


@pytest.mark.parametrize(
    "source", ["import pydantic", "from sockscope.engine.lab import LabEngine", "import fastapi"]
)
def test_a_shape_module_importing_more_is_caught(source: str) -> None:
    assert outside("sockscope.contract.lab", imported_modules(source, "sockscope.contract.lab"))
