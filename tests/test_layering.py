"""The layers import only downwards: events <- engine <- labs <- lessons <- api <- cli.

Read from the source with ast (nothing is imported), so a function-local or
TYPE_CHECKING import counts as much as a top-level one.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "backend" / "sockscope"
WEB_FRAMEWORKS = ("fastapi", "starlette", "uvicorn", "websockets", "pydantic")
ABOVE_ENGINE = (
    "sockscope.labs",
    "sockscope.lessons",
    "sockscope.api",
    "sockscope.cli",
    "sockscope.settings",
)
# cli is above labs too: it pulls in the app and uvicorn. Lessons run in labs.
ABOVE_LABS = ("sockscope.lessons", "sockscope.api", "sockscope.cli")
ABOVE_LESSONS = ("sockscope.api", "sockscope.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
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


def source_files() -> list[Path]:
    # static/ holds the built front end, not Python modules of the package.
    return [
        path
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        if "static" not in path.relative_to(PACKAGE_DIR).parts
    ]


def imports_by_module() -> dict[str, set[str]]:
    return {
        module_name(path): imported_modules(
            path.read_text(encoding="utf-8"),
            module_name(path),
            is_package=path.name == "__init__.py",
        )
        for path in source_files()
    }


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(module: str, imports: set[str]) -> list[str]:
    """Why ``module`` importing ``imports`` breaks the layering (empty when it does not)."""
    found: list[str] = []
    if within(module, ("sockscope.engine",)):
        found += [f"{module} imports {n} (above the engine)" for n in imports
                  if within(n, ABOVE_ENGINE)]  # fmt: skip
        found += [f"{module} imports the web framework {n}" for n in imports
                  if within(n, WEB_FRAMEWORKS)]  # fmt: skip
    if within(module, ("sockscope.labs",)):
        found += [f"{module} imports {n} (above labs)" for n in imports if within(n, ABOVE_LABS)]
        found += [f"{module} imports the web framework {n}" for n in imports
                  if within(n, WEB_FRAMEWORKS)]  # fmt: skip
    if within(module, ("sockscope.lessons",)):
        found += [f"{module} imports {n} (above lessons)" for n in imports
                  if within(n, ABOVE_LESSONS)]  # fmt: skip
        found += [f"{module} imports the web framework {n}" for n in imports
                  if within(n, WEB_FRAMEWORKS)]  # fmt: skip
    if module == "sockscope.events":
        found += [f"{module} imports {n}, not the standard library" for n in imports
                  if n.partition(".")[0] not in sys.stdlib_module_names]  # fmt: skip
    return sorted(found)


def test_the_layers_import_only_downwards() -> None:
    problems = [p for m, names in imports_by_module().items() for p in violations(m, names)]
    assert problems == []


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


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("sockscope.engine.lab", "from sockscope.labs.registry import Lab"),
        ("sockscope.engine.lab", "def f():\n    from ..settings import Settings"),
        ("sockscope.engine.ops", "from sockscope import api"),
        ("sockscope.labs.registry", "from sockscope.lessons.runner import LessonRun"),
        ("sockscope.lessons.runner", "from sockscope.api.routes import lab_or_404"),
        ("sockscope.lessons.actions", "import fastapi"),
        ("sockscope.engine.ops", "import sockscope.cli"),
        ("sockscope.engine.ops", "from fastapi.responses import JSONResponse"),
        ("sockscope.engine.ops", "import pydantic"),
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
        ("sockscope.labs.bridge", "from sockscope.engine.log import EventLog\nimport asyncio"),
        ("sockscope.api.app", "from fastapi import FastAPI\nfrom sockscope.labs import registry"),
        ("sockscope.engine.ops", "import websocketsx"),  # a prefix is not a package
    ],
)
def test_a_downward_import_is_fine(module: str, source: str) -> None:
    assert violations(module, imported_modules(source, module)) == []
