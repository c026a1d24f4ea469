"""The wire's JSON Schema: current, complete, closed, and made from WIRE_TYPES alone."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, get_args, get_origin, get_type_hints

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel
from test_layering import PACKAGE_DIR, imported_modules, module_name, violations
from typing_extensions import TypedDict, is_typeddict

from sockscope import events
from sockscope.api import workbench as workbench_routes
from sockscope.contract import api, lab, lessons, room, workbench
from sockscope.contract import schema as contract_schema
from sockscope.contract.lab import SocketSnapshot
from sockscope.contract.requests import FramingRequest
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
    # The workbench's answers and bodies, and what a lesson's step measured (issue 9, item 3).
    "FramingAnswer", "ByteOrderAnswer", "ByteOrderReading", "NetworkEquivalents",
    "TextVsBinary", "ShapeReport", "IpcReport", "FramingRequest", "ShapesRequest",
    "LessonStepData", "LessonFraming", "EndingRow", "StepSkipped",
}  # fmt: skip
SHAPE_MODULES = (lab, api, lessons, workbench, room)


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


def unpublished(defs: dict[str, Any], modules: tuple[ModuleType, ...] = SHAPE_MODULES) -> set[str]:
    """The TypedDicts the contract's modules declare that the schema lacks.

    A base class may be missing (pydantic writes its fields out in each subclass) when a
    subclass of it is defined.
    """
    declared = [
        cls
        for module in modules
        for cls in vars(module).values()
        if is_typeddict(cls) and cls.__module__ == module.__name__
    ]
    return {
        cls.__name__
        for cls in declared
        if cls.__name__ not in defs
        and not any(
            cls in getattr(other, "__orig_bases__", ()) and other.__name__ in defs
            for other in declared
        )
    }


def test_every_declared_shape_is_in_the_schema(defs: dict[str, Any]) -> None:
    assert unpublished(defs) == set()
    assert "FramingReading" not in defs  # a base: FramingAnswer and LessonFraming spell it out


def test_a_shape_left_out_of_the_schema_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = [(n, k) for n, k in WIRE_TYPES if n not in {"FramingAnswer", "ByteOrderAnswer"}]
    monkeypatch.setattr(contract_schema, "WIRE_TYPES", kept)
    # ByteOrderReading stays: a lesson's step data refers to it.
    assert unpublished(wire_schema()["$defs"]) == {"FramingAnswer", "ByteOrderAnswer"}


def unpublished_routes(
    wire: list[tuple[str, Any]], client: list[tuple[str, Any]]
) -> list[tuple[str, Any]]:
    """Each workbench route's answer and body not published in ``wire`` / ``client`` by name."""
    answers, bodies = [kind for _, kind in wire], [kind for _, kind in client]
    missing: list[tuple[str, Any]] = []
    for route in workbench_routes.router.routes:
        assert isinstance(route, APIRoute)
        answer = route.response_model
        if get_origin(answer) is list:
            (answer,) = get_args(answer)
        if answer not in answers:
            missing.append((route.path, answer))
        missing += [
            (route.path, param.field_info.annotation)
            for param in route.dependant.body_params
            if param.field_info.annotation not in bodies
        ]
    return missing


def test_every_workbench_route_speaks_published_shapes() -> None:
    assert len(workbench_routes.router.routes) == 3
    assert unpublished_routes(WIRE_TYPES, CLIENT_TYPES) == []


def test_a_workbench_route_with_an_unpublished_shape_is_named() -> None:
    wire = [(n, k) for n, k in WIRE_TYPES if n != "ShapeReport"]
    client = [(n, k) for n, k in CLIENT_TYPES if n != "FramingRequest"]
    assert unpublished_routes(wire, client) == [
        ("/api/workbench/framing", FramingRequest),
        ("/api/workbench/shapes", workbench.ShapeReport),
    ]


def test_a_lesson_event_carries_a_steps_data(defs: dict[str, Any]) -> None:
    step_data = {"$ref": "#/$defs/LessonStepData"}
    assert defs["LessonEvent"]["properties"]["data"] == step_data
    assert defs["LessonStepAnswer"]["properties"]["data"] == step_data  # named, not written out
    members = defs["LessonStepData"]["anyOf"]
    assert {"$ref": "#/$defs/LessonFraming"} in members and {"type": "null"} in members


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
    assert len(set(mapping)) == len(events.EVENT_TYPES) == 16


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
        "lab/snapshot", "events/batch", "events/rows", "command/result", "error"
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
                 "sockscope.contract.lessons", "sockscope.contract.workbench")  # fmt: skip
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


@pytest.mark.parametrize(
    ("source", "allowed"),
    [
        ("from sockscope.contract.workbench import ShapeReport", True),
        ("from sockscope.contract.api import ErrorBody", False),
        ("from sockscope.contract import schema", False),
        ("from sockscope.contract.requests import ShapesRequest", False),
    ],
)
def test_the_workbench_may_import_its_shapes_only(source: str, allowed: bool) -> None:
    module = "sockscope.workbench.shapes"
    found = violations(module, imported_modules(source, module))
    assert (found == []) is allowed, found
