"""The package's import graph: no cycle anywhere, and the layers import only downwards.

events <- engine.core <- engine <- labs <- lessons <- room <- api <- cli; the workbench and the
script exporter sit beside the lab core, the exporter above the engine.

Read from the source with ast (nothing is imported), and every Import and ImportFrom
node counts, wherever it is: at the top, inside a function, under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "backend" / "sockscope"
WEB_FRAMEWORKS = ("fastapi", "starlette", "uvicorn", "websockets")
# pydantic is a validation library, not the web layer: the engine checks commands with it,
# in the two modules that define them, and nowhere else (the select() loop and the events
# stay plain Python).
VALIDATION = ("pydantic", "pydantic_core")
MAY_VALIDATE = ("sockscope.engine.core.commands", "sockscope.engine.core.validation")
# What each layer may import of the package (anything else of sockscope is above it or beside it).
# contract.lab: the wire shapes the engine builds as dicts (its snapshot, a link's state, an
# answer's error), for its return annotations; standard library only, as events is
# (tests/contract/test_wire_schema.py checks that).
ENGINE_MAY_IMPORT = ("sockscope.engine", "sockscope.events", "sockscope.contract.lab")
CORE_MAY_IMPORT = ("sockscope.engine.core", "sockscope.events", "sockscope.contract.lab")
# contract.workbench: the shapes the workbench's results take on the wire, for its return
# annotations; standard library only (tests/contract/test_wire_schema.py checks that).
WORKBENCH_MAY_IMPORT = ("sockscope.workbench", "sockscope.events", "sockscope.contract.workbench")
# cli is above labs too: it pulls in the app and uvicorn. Lessons run in labs. The room
# (instructor, participants, votes; SQLite) uses labs and lessons, and api serves it.
ABOVE_LABS = ("sockscope.lessons", "sockscope.room", "sockscope.api", "sockscope.cli")
ABOVE_LESSONS = ("sockscope.room", "sockscope.api", "sockscope.cli")
ABOVE_ROOM = ("sockscope.api", "sockscope.cli")


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    parts = path.relative_to(package_dir.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module ``source`` imports, relative imports resolved against ``module``.

    ``from pkg import name`` yields both ``pkg`` and ``pkg.name``: the name may be a module.
    """
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                origin = f"{base}.{node.module}" if node.module else base
            else:
                origin = node.module or ""
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def source_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    # static/ holds the built front end, not Python modules of the package.
    return [
        path
        for path in sorted(package_dir.rglob("*.py"))
        if "static" not in path.relative_to(package_dir).parts
    ]


def imports_by_module(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    return {
        module_name(path, package_dir): imported_modules(
            path.read_text(encoding="utf-8"),
            module_name(path, package_dir),
            is_package=path.name == "__init__.py",
        )
        for path in source_files(package_dir)
    }


def module_graph(imports: dict[str, set[str]]) -> dict[str, set[str]]:
    """module -> the modules of the package it imports (names that are not modules dropped)."""
    return {module: {n for n in names if n in imports} for module, names in imports.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle, as a path [a, b, ..., a], for each strongly connected part of ``graph``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    parts: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part: set[str] = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                part.add(top)
                if top == node:
                    break
            if len(part) > 1 or node in graph[node]:
                parts.append(part)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(_path_around(graph, part) for part in parts)


def _path_around(graph: dict[str, set[str]], part: set[str]) -> list[str]:
    """The shortest cycle through the first module of ``part``, staying inside it."""
    start = min(part)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in sorted(graph[node] & part):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(part)}")


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _outside(module: str, imports: set[str], allowed: tuple[str, ...], what: str) -> list[str]:
    return [
        f"{module} imports {n} ({what})"
        for n in imports
        if within(n, ("sockscope",)) and n != "sockscope" and not within(n, allowed)
    ]


def violations(module: str, imports: set[str]) -> list[str]:
    """Why ``module`` importing ``imports`` breaks the layering (empty when it does not)."""
    found: list[str] = []
    if within(module, ("sockscope.engine.core",)):
        found += _outside(module, imports, CORE_MAY_IMPORT, "the pure core imports only itself")
    if within(module, ("sockscope.engine",)):
        found += _outside(module, imports, ENGINE_MAY_IMPORT, "above the engine")
        found += [f"{module} imports the web framework {n}" for n in imports
                  if within(n, WEB_FRAMEWORKS)]  # fmt: skip
        if module not in MAY_VALIDATE:
            found += [f"{module} imports {n} (only the command types validate)"
                      for n in imports if within(n, VALIDATION)]  # fmt: skip
    if within(module, ("sockscope.workbench",)):
        found += _outside(module, imports, WORKBENCH_MAY_IMPORT, "the workbench stands alone")
    if within(module, ("sockscope.labs",)):
        found += [f"{module} imports {n} (above labs)" for n in imports if within(n, ABOVE_LABS)]
        found += [f"{module} imports the web framework {n}" for n in imports
                  if within(n, WEB_FRAMEWORKS)]  # fmt: skip
    if within(module, ("sockscope.lessons",)):
        found += [f"{module} imports {n} (above lessons)" for n in imports
                  if within(n, ABOVE_LESSONS)]  # fmt: skip
        found += [f"{module} imports the web framework {n}" for n in imports
                  if within(n, WEB_FRAMEWORKS)]  # fmt: skip
    if within(module, ("sockscope.room",)):
        found += [f"{module} imports {n} (above the room)" for n in imports
                  if within(n, ABOVE_ROOM)]  # fmt: skip
        found += [f"{module} imports the web framework {n}" for n in imports
                  if within(n, WEB_FRAMEWORKS)]  # fmt: skip
    if module == "sockscope.events":
        found += [f"{module} imports {n}, not the standard library" for n in imports
                  if n.partition(".")[0] not in sys.stdlib_module_names]  # fmt: skip
    return sorted(found)


def test_the_layers_import_only_downwards() -> None:
    problems = [p for m, names in imports_by_module().items() for p in violations(m, names)]
    assert problems == []


def test_no_module_imports_itself_through_others() -> None:
    found = cycles(module_graph(imports_by_module()))
    assert [" -> ".join(cycle) for cycle in found] == []


# The checks above pass on silence; these make sure the walker and the rules can speak.


def test_the_walker_sees_every_module_and_its_imports() -> None:
    graph = imports_by_module()
    assert len(graph) == len(source_files()) > 20
    assert {"sockscope", "sockscope.events", "sockscope.engine", "sockscope.labs.registry"} <= set(
        graph
    )
    assert "sockscope.engine.lab" in graph["sockscope.labs.registry"]
    assert "sockscope.api.app" in graph["sockscope.cli"]  # imported inside a function
    assert "dataclasses" in graph["sockscope.events"]
    edges = module_graph(graph)
    assert "sockscope.engine.link" in edges["sockscope.engine.loopcalls"]
    assert "sockscope.engine.context" in edges["sockscope.engine.handlers.data"]
    assert "sockscope.events.Event" not in edges["sockscope.engine.log"]  # a name, not a module


def test_relative_and_package_imports_resolve() -> None:
    source = "from . import loopcalls\nfrom ..labs.registry import Lab\nfrom sockscope import api\n"
    assert imported_modules(source, "sockscope.engine.lab") == {
        "sockscope.engine",
        "sockscope.engine.loopcalls",
        "sockscope.labs.registry",
        "sockscope.labs.registry.Lab",
        "sockscope",
        "sockscope.api",
    }
    assert "sockscope.engine.calls" in imported_modules(
        "from .calls import perform", "sockscope.engine", is_package=True
    )


def test_a_cycle_is_found_and_named() -> None:
    graph = {
        "p.a": {"p.b"},
        "p.b": {"p.c"},
        "p.c": {"p.a", "p.d"},
        "p.d": set(),
        "p.e": {"p.e"},
        "p.f": {"p.g"},
        "p.g": {"p.f"},
    }
    assert cycles(graph) == [["p.a", "p.b", "p.c", "p.a"], ["p.e", "p.e"], ["p.f", "p.g", "p.f"]]
    assert cycles({"p.a": {"p.b"}, "p.b": set()}) == []


@pytest.mark.parametrize(
    "hidden",
    [
        "def later():\n    from pkg import a\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import thing\n",
        "class K:\n    def m(self):\n        import pkg.a\n",
    ],
    ids=["in a function", "under TYPE_CHECKING", "in a method"],
)
def test_a_cycle_through_a_hidden_import_is_found(tmp_path: Path, hidden: str) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text(f"thing = 1\n{hidden}")
    (package / "c.py").write_text("import pkg.a\n")
    found = cycles(module_graph(imports_by_module(package)))
    assert found == [["pkg.a", "pkg.b", "pkg.a"]]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("sockscope.engine.lab", "from sockscope.labs.registry import Lab"),
        ("sockscope.engine.lab", "def f():\n    from ..settings import Settings"),
        ("sockscope.engine.ops", "from sockscope import api"),
        ("sockscope.engine.handlers.data", "from sockscope.export import script"),
        ("sockscope.engine.link", "from sockscope.workbench.framing import Delimited"),
        ("sockscope.engine.lab", "from sockscope.room import Room"),
        ("sockscope.engine.lab", "import sockscope.typegen"),
        ("sockscope.engine.core.commands", "from sockscope.engine.lab import LabEngine"),
        ("sockscope.engine.core.policy", "from sockscope.engine import privnet"),
        ("sockscope.workbench.framing", "from sockscope.engine.sockets import LabSocket"),
        ("sockscope.workbench.ipc", "from sockscope.labs import registry"),
        ("sockscope.labs.registry", "from sockscope.lessons.runner import LessonRun"),
        ("sockscope.lessons.runner", "from sockscope.api.routes import lab_or_404"),
        ("sockscope.lessons.actions", "import fastapi"),
        ("sockscope.lessons.runner", "from sockscope.room.room import Room"),
        ("sockscope.labs.registry", "from sockscope.room import store"),
        ("sockscope.room.room", "from sockscope.api.access import Caller"),
        ("sockscope.room.store", "from starlette.requests import Request"),
        ("sockscope.room.votes", "import sockscope.cli"),
        ("sockscope.engine.ops", "import sockscope.cli"),
        ("sockscope.engine.ops", "from fastapi.responses import JSONResponse"),
        ("sockscope.engine.ops", "import pydantic"),
        ("sockscope.engine.lab", "from pydantic_core import core_schema"),
        ("sockscope.labs.bridge", "from sockscope.api.wire import answer_body"),
        ("sockscope.labs.bridge", "import starlette.websockets"),
        ("sockscope.events", "from sockscope.engine.errors import CommandError"),
        ("sockscope.events", "import pydantic"),
    ],
)
def test_a_breach_is_reported(module: str, source: str) -> None:
    assert violations(module, imported_modules(source, module)) != []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("sockscope.engine.lab", "from sockscope.events import Event\nimport select"),
        ("sockscope.engine.lab", "from sockscope.engine.handlers import dispatch"),
        ("sockscope.engine.core.commands", "from sockscope.engine.core.errors import TooLarge"),
        ("sockscope.engine.core.commands", "from pydantic import BaseModel"),
        ("sockscope.engine.core.tcptable", "from sockscope.events import Address"),
        ("sockscope.workbench.framing", "from sockscope.workbench.byteorder import parse"),
        ("sockscope.export.script", "from sockscope.engine.tickets import Ticket"),
        ("sockscope.labs.bridge", "from sockscope.engine.log import EventLog\nimport asyncio"),
        ("sockscope.api.app", "from fastapi import FastAPI\nfrom sockscope.labs import registry"),
        ("sockscope.room.room", "from sockscope.labs.bridge import run_command"),
        ("sockscope.room.votes", "from sockscope.lessons.model import find_lesson"),
        ("sockscope.api.room", "from sockscope.room.room import Room"),
        ("sockscope.engine.ops", "import websocketsx"),  # a prefix is not a package
        ("sockscope.engine.lab", "import sockscopex.engine"),  # nor here
    ],
)
def test_a_downward_import_is_fine(module: str, source: str) -> None:
    assert violations(module, imported_modules(source, module)) == []
