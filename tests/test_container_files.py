"""Dockerfile and docker-compose.yml agree with each other and with the code (no Docker needed)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from sockscope.api.app import create_app
from sockscope.settings import Settings, parse_port_range

ROOT = Path(__file__).resolve().parents[1]
LAB_RANGE = "{}-{}".format(*Settings().lab_ports)


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [ln.strip() for ln in text.splitlines()]
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (ln.partition(" ") for ln in lines if ln and not ln.startswith("#"))
    ]


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def block(lines: list[str], key: str) -> list[str]:
    """The lines nested under the first `key:` line (indentation-based, as YAML is)."""
    for i, line in enumerate(lines):
        if line.strip() == f"{key}:":
            indent = len(line) - len(line.lstrip())
            rest = lines[i + 1 :]
            deeper = [len(ln) - len(ln.lstrip()) > indent for ln in rest] + [False]
            return rest[: deeper.index(False)]
    raise AssertionError(f"docker-compose.yml has no {key!r} block")


def compose_service() -> list[str]:
    text = (ROOT / "docker-compose.yml").read_text()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return block(block(lines, "services"), "sockscope")


def published() -> dict[str, str]:
    """container port (or range) -> host port (or range), from the service's `ports:`."""
    found = {}
    for line in block(compose_service(), "ports"):
        spec = line.strip().removeprefix("-").strip().strip("'\"").removesuffix("/tcp")
        *host, container = spec.split(":")
        found[container] = host[-1] if host else container
    return found


def test_compose_publishes_the_web_port_and_the_lab_range() -> None:
    assert published() == {"8000": "8000", LAB_RANGE: LAB_RANGE}


def test_compose_lab_ports_match_settings() -> None:
    # either `KEY: "value"` or `- KEY=value`
    item = r"""^\s*-?\s*["']?(\w+)["']?\s*[:=]\s*["']?([^"'\s]*)"""
    env = dict(re.findall(item, "\n".join(block(compose_service(), "environment")), re.M))
    assert parse_port_range(env["SOCKSCOPE_LAB_PORTS"]) == Settings().lab_ports


def test_compose_healthcheck_matches_the_dockerfile() -> None:
    (health,) = [arg for word, arg in final_stage() if word == "HEALTHCHECK"]
    compose_test = next(ln for ln in block(compose_service(), "healthcheck") if "test:" in ln)
    url = re.search(r"http://127\.0\.0\.1:8000/healthz", health)
    assert url, health
    assert url.group() in compose_test
    assert "/healthz" in {getattr(route, "path", None) for route in create_app().routes}


def test_dockerfile_stages_user_and_ports() -> None:
    froms = [arg for word, arg in dockerfile() if word == "FROM"]
    assert [f.split()[-1] for f in froms] == ["ui", "app"], froms
    assert froms[0].startswith("node:") and froms[1].startswith("python:3.11")
    steps = final_stage()
    assert any(word == "COPY" and "--from=ui" in arg for word, arg in steps)
    users = [(i, arg) for i, (word, arg) in enumerate(steps) if word == "USER"]
    assert users and users[-1][1].split(":")[0] not in {"root", "0"}, users
    last_run = max(i for i, (word, _) in enumerate(steps) if word == "RUN")
    assert users[-1][0] > last_run, "USER must come after the install steps"
    exposed = {p for word, arg in steps if word == "EXPOSE" for p in arg.split()}
    assert {"8000", LAB_RANGE} <= exposed, exposed


def test_cmd_runs_the_sockscope_command() -> None:
    (cmd,) = [json.loads(arg) for word, arg in final_stage() if word == "CMD"]
    assert cmd[0] == "sockscope"
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--port") + 1] == "8000"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts.get(cmd[0]) == "sockscope.cli:main"
    makefile = ROOT / "Makefile"
    if makefile.exists():  # `make run` must start the same command the image does
        recipe = re.search(r"^run:.*\n((?:\t.*\n?)+)", makefile.read_text(), re.M)
        assert recipe, "Makefile has no run target"
        assert re.search(r"(^|[\s/])sockscope(\s|$)|-m sockscope\b", recipe.group(1)), recipe
