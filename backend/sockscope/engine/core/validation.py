"""The field types of commands, and pydantic's errors said the way a participant reads them (pure).

A command field is typed once, here, for both jobs: checking what a client sent and
describing it in the JSON Schema (the OpenAPI document, the generated TypeScript).
Checks that depend on the lab's policy (how big a payload may be) read it from the
validation context: ``validate_python(raw, context={"policy": policy})``.

Every refusal becomes a :class:`CommandError` naming the field at fault, with a message
that says what was expected and quotes (briefly) what came: "size: must be between 0
and 16777216, got -5".
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError, ValidationInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from sockscope.engine.core.errors import CommandError, InvalidCommand, TooLarge
from sockscope.engine.core.policy import LabPolicy

QUOTED_CHARS = 60  # an error repeats at most this much of what it refuses
DEFAULT_POLICY = LabPolicy()  # what the JSON Schema states as the caps (a lab may differ)

NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,31}"
_NAME = re.compile(NAME_PATTERN)
RESERVED_NAMES = frozenset({"socket", "select", "pattern", "data", "self"})


def quoted(value: Any) -> str:
    """``repr(value)``, cut short: a refusal must not echo a huge input back (or into the log)."""
    text = repr(value)
    return text if len(text) <= QUOTED_CHARS else text[: QUOTED_CHARS - 1] + "…"


def refuse(kind: str, message: str) -> PydanticCustomError:
    """A refusal raised inside a validator; ``message`` follows the field's name and ": "."""
    return PydanticCustomError(kind, "{message}", {"message": message})


def policy_of(info: ValidationInfo) -> LabPolicy:
    context = info.context
    policy = context.get("policy") if isinstance(context, dict) else None
    return policy if isinstance(policy, LabPolicy) else DEFAULT_POLICY


# -- field types ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Whole:
    """An integer between ``lo`` and ``hi`` (never a bool, never 1.0).

    ``cap`` names the policy field that sets ``hi`` per lab; ``size``: over the cap is
    "too large" (413), not merely invalid.
    """

    lo: int
    hi: int | None = None
    cap: str | None = None
    size: bool = False

    def bound(self, policy: LabPolicy) -> int:
        hi = getattr(policy, self.cap) if self.cap else self.hi
        assert isinstance(hi, int)
        return hi

    def check(self, value: int, info: ValidationInfo) -> int:
        hi = self.bound(policy_of(info))
        if self.size and value > hi:
            raise refuse("too_large", f"{value} is over this lab's limit of {hi}")
        if not self.lo <= value <= hi:
            raise refuse("out_of_range", f"must be between {self.lo} and {hi}, got {value}")
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_after_validator_function(
            self.check, core_schema.int_schema(strict=True)
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        value = handler(schema)
        value.update(minimum=self.lo, maximum=self.bound(DEFAULT_POLICY))
        if self.cap:
            value["description"] = f"at most the lab's {self.cap} ({value['maximum']} by default)"
        return value


def _check_name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise refuse("name", f"a Python identifier of at most 32 characters, got {quoted(value)}")
    if keyword.iskeyword(value) or value in RESERVED_NAMES:
        raise refuse("name", f"{quoted(value)} is reserved, choose another name")
    return value


def _check_address(value: Any) -> tuple[str, int]:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not isinstance(value[0], str)
        or isinstance(value[1], bool)
        or not isinstance(value[1], int)
    ):
        raise refuse("address", f'["host", port] is required, got {quoted(value)}')
    host, port = value
    if not 0 <= port <= 65535:
        raise refuse("address", f"port must be 0-65535, got {port}")
    return host, port


def _check_timeout(value: Any) -> float | None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3600
    ):
        raise refuse("timeout", f"seconds between 0 and 3600, or null; got {quoted(value)}")
    return None if value is None else float(value)


def _bool_as_int(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


@dataclass(frozen=True, slots=True)
class _Plain:
    """A field checked by one function of ours, described by a fixed JSON Schema."""

    check: Callable[[Any], Any]
    schema: dict[str, Any] = field(compare=False)  # (a dict cannot be hashed)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return dict(self.schema)


@dataclass(frozen=True, slots=True)
class _Before:
    """Turn the input before pydantic's own check (the schema is the inner type's)."""

    turn: Callable[[Any], Any]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self.turn, handler(source))


SocketName = Annotated[
    str,
    _Plain(
        _check_name,
        {
            "type": "string",
            "pattern": f"^{NAME_PATTERN}$",
            "description": "a Python identifier (not a keyword, nor socket, select, pattern,"
            " data or self)",
        },
    ),
]
Address = Annotated[
    tuple[str, int],
    _Plain(
        _check_address,
        {
            "type": "array",
            "prefixItems": [
                {"type": "string", "description": "host"},
                {"type": "integer", "minimum": 0, "maximum": 65535, "description": "port"},
            ],
            "minItems": 2,
            "maxItems": 2,
            "description": '["host", port]',
        },
    ),
]
Timeout = Annotated[
    float | None,
    _Plain(
        _check_timeout,
        {
            "anyOf": [{"type": "number", "minimum": 0, "maximum": 3600}, {"type": "null"}],
            "description": "seconds; null: blocking with no limit",
        },
    ),
]
BoolAsInt = _Before(_bool_as_int)


# -- pydantic's errors, said plainly ------------------------------------------------------

_CHOICE_HINTS = {
    "options.network": "host (this machine's loopback) or private (the lab's own, whose"
    " cable can be pulled out)",
    "direction": "up, down or both",
}
_TYPE_NAMES = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dict_type": "an object",
}


def _choices(expected: str) -> str:
    """pydantic's ``"'a', 'b' or 'c'"`` as ``a, b, c``."""
    return ", ".join(part.strip(" '") for part in re.split(r",| or ", expected) if part.strip())


def command_error(exc: ValidationError, op: str, extras: Callable[[str], str]) -> CommandError:
    """The first of pydantic's errors as the engine's refusal (one field, one message).

    ``op`` is the command's op (the first element of each error's location);
    ``extras(path)`` says which fields an object at ``path`` knows.
    """
    errors = exc.errors(include_url=False)
    # An unknown field first (as a reader scans a command), then in the order of the fields.
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [str(part) for part in error["loc"]]
    path = ".".join(loc[1:]) if loc and loc[0] == op else ".".join(loc)
    kind, value = error["type"], error.get("input")
    field = path or None
    if kind == "extra_forbidden":
        parent, _, name = path.rpartition(".")
        if parent:
            return InvalidCommand(path, f"{path}: unknown option; known: {extras(parent)}")
        return InvalidCommand(name, f"{op} takes no field {quoted(name)}")
    if kind == "missing":
        return InvalidCommand(field, f"{path}: required")
    if kind == "literal_error":
        hint = _CHOICE_HINTS.get(path) or "one of " + _choices(error["ctx"]["expected"])
        return InvalidCommand(field, f"{path}: {hint}; got {quoted(value)}")
    if kind in _TYPE_NAMES:
        what = _TYPE_NAMES[kind]
        return InvalidCommand(field, f"{path}: {what} is required, got {quoted(value)}")
    if isinstance(error.get("ctx"), dict) and "message" in error["ctx"]:
        said = str(error["ctx"]["message"])
        if kind == "choice":  # a rule about several fields, named by the first
            field, _, said = said.partition("|")
            return InvalidCommand(field, said)
        error_type = TooLarge if kind == "too_large" else InvalidCommand
        return error_type(field, f"{path}: {said}" if path else said)
    return InvalidCommand(field, f"{path or 'command'}: {error['msg']}")


def choice(field: str, message: str) -> PydanticCustomError:
    """A refusal about several fields together, reported under ``field``."""
    return refuse("choice", f"{field}|{message}")
