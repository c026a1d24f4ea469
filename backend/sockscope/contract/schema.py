"""One JSON Schema of everything on the wire, for the front end's types.

``python -m sockscope.contract`` prints it; ``make types`` (``npm run types`` in frontend/)
writes it to frontend/src/protocol/wire.schema.json and turns it into
frontend/src/protocol/events.ts with json-schema-to-typescript. Each entry of
:data:`WIRE_TYPES` and :data:`CLIENT_TYPES` becomes a definition under ``$defs`` named as it
is there, with the definitions it refers to; a test fails when either file is stale.

pydantic reads what the server sends (:data:`WIRE_TYPES`: dataclasses and TypedDicts) in
serialization mode, as :func:`sockscope.events.to_wire` and the API write them: every field
of an event is sent, defaults included, and no object has keys beyond its fields. What a
client sends (:data:`CLIENT_TYPES`) is read in validation mode: what the server accepts.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import core_schema

from sockscope import events
from sockscope.contract import api, lab, lessons, requests, room, room_requests, workbench
from sockscope.engine.core import commands

SCHEMA_ID = "https://sockscope.invalid/wire.schema.json"


# Name on the wire (and in TypeScript) -> the Python type. Add a shape here to publish it.
WIRE_TYPES: list[tuple[str, Any]] = [
    ("LabEvent", Annotated[events.Event, Field(discriminator="kind")]),
    ("LabSnapshot", lab.LabSnapshot),
    ("LinkState", lab.LinkState),
    ("NetworkState", lab.NetworkState),
    ("ErrorDetail", lab.ErrorDetail),
    ("CommandAnswer", api.CommandAnswer),
    ("ErrorBody", api.ErrorBody),
    ("ServerMessage", Annotated[api.ServerMessage, Field(discriminator="type")]),
    (
        "RowsEvents",
        list[list[events.JSONValue] | Annotated[events.Event, Field(discriminator="kind")]],
    ),
    ("EventsPage", api.EventsPage),
    ("LabCreated", api.LabCreated),
    ("ServerInfo", api.ServerInfo),
    ("Preview", api.Preview),
    ("Health", api.Health),
    ("LessonOutline", lessons.LessonOutline),
    ("LessonDefinition", lessons.LessonDefinition),
    ("LessonState", lessons.LessonState),
    ("LessonStepAnswer", lessons.LessonStepAnswer),
    ("LessonStepData", lessons.LessonStepData),
    ("FramingAnswer", workbench.FramingAnswer),
    ("ByteOrderAnswer", workbench.ByteOrderAnswer),
    ("ShapeReport", workbench.ShapeReport),
    ("IpcReport", workbench.IpcReport),
    # The room (issue 10): the instructor's grid, joining, votes, room-wide runs, observers.
    ("RoomState", room.RoomState),
    ("RoomParticipant", room.RoomParticipant),
    ("Joined", room.Joined),
    ("Me", room.Me),
    ("WhoAmI", room.WhoAmI),
    ("JoinInfo", room.JoinInfo),
    ("RoomAnswers", room.RoomAnswers),
    ("AnswerTaken", room.AnswerTaken),
    ("LabAnswers", room.LabAnswers),
    ("Revealed", room.Revealed),
    ("RoomRun", room.RoomRun),
    ("RoomStep", room.RoomStep),
    ("ObserverLink", room.ObserverLink),
    ("RoomMirror", room.RoomMirror),
    ("HelpState", room.HelpState),
    ("RoomLimits", room.RoomLimits),
    ("RoomKernels", room.RoomKernels),
]
# The same, for what a client sends.
CLIENT_TYPES: list[tuple[str, Any]] = [
    ("Command", commands.Command),  # one type per op (engine/core/commands.py)
    ("FramingRequest", requests.FramingRequest),
    ("ShapesRequest", requests.ShapesRequest),
    # The room's bodies (contract/room_requests.py).
    ("JoinRequest", room_requests.JoinRequest),
    ("PushRequest", room_requests.PushRequest),
    ("FreezeRequest", room_requests.FreezeRequest),
    ("QuestionRequest", room_requests.QuestionRequest),
    ("AnswerRequest", room_requests.AnswerRequest),
    ("ObserverRequest", room_requests.ObserverRequest),
    ("RunRequest", room_requests.RunRequest),
    ("MirrorRequest", room_requests.MirrorRequest),
    ("HelpRequest", room_requests.HelpRequest),
    ("LimitsRequest", room_requests.LimitsRequest),
]

# Fields typed loosely in Python because their module may import only the standard library;
# the schema names their shape: (definition, property) -> definition.
REFINED: dict[tuple[str, str], str] = {
    ("LinkEvent", "link"): "LinkState",
    ("LessonEvent", "data"): "LessonStepData",
    ("EventsRowsMessage", "events"): "RowsEvents",  # rows, or events as LabEvent names them
}


class WireSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, as the wire has it: required defaults, closed objects."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        # to_wire() writes every field of a dataclass, defaults too (an event's kind).
        if self.mode == "serialization" and field["type"] == "dataclass-field":
            return True
        return super().field_is_required(field, total)

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # a title makes json-schema-to-typescript name a type for the field

    def typed_dict_schema(self, schema: core_schema.TypedDictSchema) -> JsonSchemaValue:
        return _closed(super().typed_dict_schema(schema))

    def dataclass_schema(self, schema: core_schema.DataclassSchema) -> JsonSchemaValue:
        return _closed(super().dataclass_schema(schema))


def _closed(schema: JsonSchemaValue) -> JsonSchemaValue:
    schema.setdefault("additionalProperties", False)
    return schema


def wire_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) whose ``$defs`` hold every shape of :data:`WIRE_TYPES` and
    :data:`CLIENT_TYPES`.

    Its root lists each published shape by name, so a generator that starts from the root
    reaches all of them; validate a message against its definition, not the root.
    """
    sent: JsonSchemaMode = "serialization"
    received: JsonSchemaMode = "validation"
    inputs = [(name, sent, TypeAdapter(kind)) for name, kind in WIRE_TYPES]
    inputs += [(name, received, TypeAdapter(kind)) for name, kind in CLIENT_TYPES]
    roots, document = TypeAdapter.json_schemas(
        inputs, ref_template="#/$defs/{model}", schema_generator=WireSchema
    )
    defs: dict[str, Any] = document.get("$defs", {})
    for (name, _mode), root in roots.items():
        target = root.get("$ref", "").removeprefix("#/$defs/")
        if set(root) == {"$ref"} and target != name:
            defs = _renamed(defs, target, name)  # a class published under another name
        elif not target:
            defs[name] = {"title": name, **root}  # a union: named here, not by pydantic
    for (owner, field), target in REFINED.items():
        properties = defs[owner]["properties"]
        if field not in properties:
            raise KeyError(f"{owner} has no field {field!r} to refine")
        properties[field] = {"$ref": f"#/$defs/{target}"}
    defs = {name: _tidy(schema, _unions(defs)) for name, schema in sorted(defs.items())}
    names = [name for name, _ in (*WIRE_TYPES, *CLIENT_TYPES)]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Wire",
        "description": "Every shape the Sockscope server sends, by name (sockscope.contract).",
        "x-schema-version": events.SCHEMA_VERSION,
        "type": "object",
        "properties": {name: {"$ref": f"#/$defs/{name}"} for name in names},
        "required": names,
        "additionalProperties": False,
        "$defs": defs,
    }


def _renamed(defs: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    text = json.dumps(defs).replace(f'"#/$defs/{old}"', f'"#/$defs/{new}"')
    renamed: dict[str, Any] = json.loads(text)
    renamed[new] = {**renamed.pop(old), "title": new}
    return renamed


def _unions(defs: dict[str, Any]) -> dict[frozenset[str], str]:
    """Each named union, by its members (refs to shapes, or lists of them, or null)."""
    found = {}
    for name, schema in defs.items():
        members = schema.get("oneOf") or schema.get("anyOf")
        if members:
            found[_members(members)] = name
    return found


def _members(members: list[Any]) -> frozenset[str]:
    return frozenset(json.dumps(member, sort_keys=True) for member in members)


def _tidy(schema: Any, unions: dict[frozenset[str], str], top: bool = True) -> Any:
    """A union written out again (a list of events, a step's data) refers to its name instead;
    docstrings' ``code`` becomes Markdown's `code`."""
    if isinstance(schema, list):
        return [_tidy(item, unions, top=False) for item in schema]
    if not isinstance(schema, dict):
        return schema
    members = schema.get("oneOf") or schema.get("anyOf")
    if not top and members:
        name = unions.get(_members(members))
        if name is not None:
            return {"$ref": f"#/$defs/{name}"}
    tidied = {key: _tidy(value, unions, top=False) for key, value in schema.items()}
    if isinstance(tidied.get("description"), str):
        tidied["description"] = tidied["description"].replace("``", "`")
    return tidied
