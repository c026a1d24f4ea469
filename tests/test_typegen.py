"""The front end's event types are generated from sockscope.events and kept current."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

import pytest

from sockscope import events, typegen

EVENTS_TS = Path(__file__).resolve().parents[1] / "frontend" / "src" / "protocol" / "events.ts"
REGENERATE = ".venv/bin/python -m sockscope.typegen > frontend/src/protocol/events.ts"


def test_committed_events_ts_is_current() -> None:
    committed = EVENTS_TS.read_text(encoding="utf-8")
    assert committed == typegen.render(), (
        f"{EVENTS_TS.name} is stale: the Python schema changed. Run `{REGENERATE}`"
    )


def test_render_covers_every_event_kind() -> None:
    rendered = typegen.render()
    for cls in events.EVENT_TYPES:
        kind = cls.__dataclass_fields__["kind"].default
        assert f'export interface {cls.__name__} {{\n  kind: "{kind}";' in rendered
    assert f"export const SCHEMA_VERSION = {events.SCHEMA_VERSION};" in rendered


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (int | None, "number | null"),
        (Optional[int], "number | null"),  # noqa: UP045 (the typing.Union spelling, on purpose)
        (float, "number"),
        (bool, "boolean"),
        (str | None, "string | null"),
        (Any, "unknown"),
        (list[str], "string[]"),
        (list[int | None], "(number | null)[]"),
        (Literal["a", "b"], '"a" | "b"'),
        (tuple[str, int], "[string, number]"),
        (tuple[str, int] | None, "[string, number] | null"),
        (events.BytesInfo | None, "BytesInfo | null"),
    ],
)
def test_ts_type_maps_hints(hint: Any, expected: str) -> None:
    assert typegen.ts_type(hint) == expected


@pytest.mark.parametrize(
    "hint",
    [dict[str, int], set[int], bytes, list, tuple[int, ...], object],
    ids=["dict", "set", "bytes", "bare-list", "variadic-tuple", "object"],
)
def test_ts_type_refuses_what_it_cannot_express(hint: Any) -> None:
    with pytest.raises(TypeError, match="no TypeScript type"):
        typegen.ts_type(hint)


# Literal values are written as JSON: numbers and booleans stay unquoted.
def test_ts_type_does_not_quote_non_string_literals() -> None:
    try:
        rendered = typegen.ts_type(Literal[1, True])
    except TypeError:
        return
    assert rendered == "1 | true"


# A dataclass without a docstring would leak its generated signature into events.ts.
def test_doc_comments_are_prose_not_signatures() -> None:
    for cls in (*events.RECORD_TYPES, *events.EVENT_TYPES):
        assert f"/** {cls.__name__}(" not in typegen.render(), cls.__name__
