"""The front end's wire types are json-schema-to-typescript's output for the committed schema.

Runs frontend/scripts/types.mjs with node (the same script `make types` runs); it needs the
front end's node_modules (`make ui`, or `cd frontend && npm ci`).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sockscope import events
from sockscope.contract.schema import CLIENT_TYPES, WIRE_TYPES

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
SCHEMA_FILE = FRONTEND / "src/protocol/wire.schema.json"
TYPES_FILE = FRONTEND / "src/protocol/events.ts"


def typescript(schema_file: Path) -> str:
    node = shutil.which("node")
    assert node, "the wire types are generated with node: install Node.js 20"
    generator = FRONTEND / "node_modules/json-schema-to-typescript"
    assert generator.is_dir(), "json-schema-to-typescript is missing: run `make ui` (npm ci)"
    done = subprocess.run(
        [node, "scripts/types.mjs", "--ts-from", str(schema_file)],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def committed() -> str:
    return TYPES_FILE.read_text(encoding="utf-8")


def test_the_committed_types_are_current(committed: str) -> None:
    assert typescript(SCHEMA_FILE) == committed, f"{TYPES_FILE.name} is stale: run `make types`"


def test_a_change_to_the_schema_changes_the_types(tmp_path: Path, committed: str) -> None:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    changed = copy.deepcopy(schema)
    changed["$defs"]["Figures"]["properties"]["cwnd"] = {"type": "string"}
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(changed), encoding="utf-8")
    regenerated = typescript(path)
    assert regenerated != committed
    assert "  cwnd: string;\n" in regenerated and "  cwnd: number | null;\n" in committed


def test_every_published_shape_is_exported(committed: str) -> None:
    exported = set(re.findall(r"^export (?:interface|type) (\w+)", committed, re.MULTILINE))
    assert {name for name, _ in (*WIRE_TYPES, *CLIENT_TYPES)} <= exported
    assert not {name for name in exported if re.search(r"\d$", name)}, "a name was doubled"


def test_every_event_kind_has_its_interface(committed: str) -> None:
    for cls in events.EVENT_TYPES:
        kind = cls.__dataclass_fields__["kind"].default
        assert f'export interface {cls.__name__} {{\n  kind: "{kind}";' in committed


def test_the_constants_match_python(committed: str) -> None:
    assert f"export const SCHEMA_VERSION = {events.SCHEMA_VERSION};" in committed
    kinds = ", ".join(f'"{cls.__dataclass_fields__["kind"].default}"' for cls in events.EVENT_TYPES)
    assert f"export const EVENT_KINDS = [{kinds}] as const;" in committed


def test_tuples_and_closed_objects_come_out_typed(committed: str) -> None:
    assert "  listen: [string, number];\n" in committed
    assert "  port_range: [number, number];\n" in committed
    assert "unknown, unknown]" not in committed
    # No interface admits keys beyond its fields but the command (while it is a placeholder)
    # and a lesson step, whose command and action are free-form.
    blocks = re.findall(
        r"^export interface (\w+) \{\n(.*?)^\}", committed, re.MULTILINE | re.DOTALL
    )
    assert len(blocks) > 30
    assert {name for name, body in blocks if "[k: string]" in body} <= {"Command", "LessonStep"}
