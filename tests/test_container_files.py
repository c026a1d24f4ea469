"""Dockerfile and docker-compose.yml agree with each other and with the code (no Docker needed)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from sockscope.api.app import create_app
from sockscope.settings import Settings, from_env, parse_port_range

ROOT = Path(__file__).resolve().parents[1]


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


def compose_service(name: str = "docker-compose.yml") -> list[str]:
    text = (ROOT / name).read_text()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return block(block(lines, "services"), "sockscope")


def published(name: str = "docker-compose.yml") -> dict[str, str]:
    """container port (or range) -> host port (or range), from the service's `ports:`."""
    found = {}
    for line in block(compose_service(name), "ports"):
        spec = line.strip().removeprefix("-").strip().strip("'\"").removesuffix("/tcp")
        # HOST:CONTAINER, either side possibly a ${VARIABLE:-default} with colons inside
        parts = re.findall(r"(?:\$\{[^}]*\}|[^:])+", spec)
        found[parts[-1]] = parts[-2] if len(parts) > 1 else parts[-1]
    return found


def environment(name: str = "docker-compose.yml") -> dict[str, str]:
    # either `KEY: "value"` or `- KEY=value`
    item = r"""^\s*-?\s*["']?(\w+)["']?\s*[:=]\s*["']?([^"'\s]*)"""
    return dict(re.findall(item, "\n".join(block(compose_service(name), "environment")), re.M))


def default_of(value: str) -> str:
    """The default of a compose ${VARIABLE:-default}."""
    found = re.fullmatch(r"\$\{(\w+):-([^}]*)\}", value)
    assert found, f"{value!r} is not ${{VARIABLE:-default}}"
    return found.group(2)


def test_compose_publishes_only_the_web_port_by_default() -> None:
    # Publishing the lab range costs a proxy per port and ~50 ms at every stop.
    assert published() == {"8000": "${SOCKSCOPE_HTTP_PORT:-8000}"}


def test_one_variable_sets_the_lab_ports_and_the_published_range() -> None:
    lab_ports = environment()["SOCKSCOPE_LAB_PORTS"]
    assert lab_ports == "${SOCKSCOPE_LAB_PORTS:-20000-20999}"
    assert parse_port_range(default_of(lab_ports)) == Settings().lab_ports
    # The overlay publishes 200 by default (each port is a docker-proxy process), and sets
    # the same range inside, from the same variable, so the two cannot disagree.
    overlay = environment("compose.lab-ports.yml")["SOCKSCOPE_LAB_PORTS"]
    assert overlay == "${SOCKSCOPE_LAB_PORTS:-20000-20199}"
    assert published("compose.lab-ports.yml") == {overlay: overlay}
    assert environment("compose.lab-ports.yml")["SOCKSCOPE_LAB_PORTS_PUBLISHED"] == "1"


def test_every_setting_the_compose_file_passes_is_read_by_the_server() -> None:
    names = set(environment()) | set(environment("compose.lab-ports.yml"))
    read = {k.removeprefix("SOCKSCOPE_").lower() for k in names}
    values = from_env({f"SOCKSCOPE_{k.upper()}": "1" for k in read - {"lab_ports"}})
    unread = read - {"lab_ports"} - set(values)
    assert not unread, f"compose passes settings the server ignores: {unread}"


def test_the_overlays_name_what_they_change() -> None:
    assert any("network_mode: host" in ln for ln in compose_service("compose.host-network.yml"))
    grants = "\n".join(compose_service("compose.private-network.yml"))
    assert "cap_add: [SYS_ADMIN, SETUID, SETGID, NET_RAW]" in grants and "unconfined" not in grants
    base = "\n".join(compose_service())
    assert "cap_drop: [ALL]" in base and "no-new-privileges:true" in base
    assert "cap_add: [SETUID, SETGID, NET_RAW]" in base  # the packet broker's, at start


def health_command(text: str) -> str:
    found = re.search(r"import socket,sys;[^\]]*readline\(\)\)", text)
    assert found, text
    return found.group()


def test_compose_healthcheck_matches_the_dockerfile() -> None:
    (health,) = [arg for word, arg in final_stage() if word == "HEALTHCHECK"]
    compose_test = next(ln for ln in block(compose_service(), "healthcheck") if "test:" in ln)
    assert health_command(health) == health_command(compose_test)
    assert "('127.0.0.1',8000)" in health and "/healthz" in health
    assert "/healthz" in {getattr(route, "path", None) for route in create_app().routes}


def test_dependencies_install_in_a_layer_before_the_code() -> None:
    steps = final_stage()
    copies = [i for i, (word, arg) in enumerate(steps) if word == "COPY"]
    lock = next(i for i in copies if "requirements/run.txt" in steps[i][1])
    code = next(i for i in copies if steps[i][1].startswith("backend/"))
    install = next(i for i, (w, a) in enumerate(steps) if w == "RUN" and "--require-hashes" in a)
    assert lock < install < code, "the pinned dependencies must be installed before the code"
    project = next(i for i, (w, a) in enumerate(steps) if w == "RUN" and "--no-deps" in a)
    assert code < project and "--no-build-isolation" in steps[project][1]


def test_dockerfile_stages_user_and_ports() -> None:
    froms = [arg for word, arg in dockerfile() if word == "FROM"]
    assert [f.split()[-1] for f in froms] == ["ui", "app"], froms
    assert froms[0].startswith("node:") and froms[1].startswith("python:3.11")
    steps = final_stage()
    assert any(word == "COPY" and "--from=ui" in arg for word, arg in steps)
    # The server never runs as root: the image starts the packet broker, which becomes the
    # unprivileged user (made in a RUN step) before anything else, and runs the server so.
    (cmd,) = [json.loads(arg) for word, arg in steps if word == "CMD"]
    assert cmd[:3] == ["python", "-m", "sockscope.engine.packetbroker"], cmd
    user = cmd[cmd.index("--user") + 1]
    assert user not in {"root", "0"}
    assert any(word == "RUN" and "useradd" in arg and user in arg for word, arg in steps)
    assert not [arg for word, arg in steps if word == "USER"], "the broker changes user itself"
    exposed = {p for word, arg in steps if word == "EXPOSE" for p in arg.split()}
    assert exposed == {"8000"}, exposed


def test_cmd_runs_the_sockscope_command() -> None:
    (whole,) = [json.loads(arg) for word, arg in final_stage() if word == "CMD"]
    cmd = whole[whole.index("--") + 1 :]  # what the packet broker runs as the user
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
