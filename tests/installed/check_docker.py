"""`make docker-test`: the image and the compose files, run for real, as a workshop uses them.

Needs a Docker engine with compose v2 (CI starts one with ../shared/ci/docker/start-dockerd and
builds stand-ins for the base images with standin-bases; see the Makefile). For each way of
starting the room it runs `docker compose up -d`, waits for Docker to call the container
healthy, runs the workshop smoke check through the published ports, then stops it and checks
the exit code. Prints the times measured; exits non-zero, saying why, on the first failure.

  default            docker-compose.yml: the web port only
  lab-ports          + compose.lab-ports.yml, SOCKSCOPE_LAB_PORTS=10 free ports: one variable
                     sets both the lab range and the published range; a program on the
                     host reaches a lab server
  host-network       + compose.host-network.yml (Linux): every lab port, no proxies
  private-network    + compose.private-network.yml: the lab's private network works
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from installed.wheel import ROOT
from workshop_smoke import SmokeFailure, run_all, wait_until_serving

PROJECT = "sockscope-ci"  # never the instructor's own compose project
HEALTHY_TIMEOUT = 60.0
CABLE_LESSON = "when-sockets-die"
LESSONS = len(list((ROOT / "backend/sockscope/lessons/data").glob("*.toml")))


class Said(list[str]):
    """Lines printed as they are said, so a failure shows how far a scenario got."""

    def __init__(self, first: str) -> None:
        super().__init__()
        self.append(first)

    def append(self, line: str) -> None:
        print(line, flush=True)
        super().append(line)

    def extend(self, lines: object) -> None:
        for line in lines:  # type: ignore[attr-defined]
            self.append(line)


@dataclass
class Scenario:
    name: str
    files: list[str]
    env: dict[str, str] = field(default_factory=dict)
    http_port: int = 0  # 0: a free one
    reach: bool = False  # a program on the host connects to a lab server
    lab_ports: tuple[int, int] = (20000, 20999)  # the compose file's default
    private_network: bool = False  # True: must work; False: refused with the compose hint


def compose(scenario: Scenario, *args: str, timeout: float = 600, check: bool = True) -> str:
    command = ["docker", "compose", "-p", PROJECT]
    for name in scenario.files:
        command += ["-f", str(ROOT / name)]
    env = {**os.environ, "COMPOSE_BAKE": "false", **scenario.env}
    env["SOCKSCOPE_HTTP_PORT"] = str(scenario.http_port)
    done = subprocess.run(
        [*command, *args], check=False, cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if check and done.returncode != 0:
        raise SmokeFailure(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout + done.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def free_range(count: int, low: int = 20000, high: int = 20199) -> tuple[int, int]:
    """``count`` consecutive ports of the lab range that no program here holds (from the top).

    A host program on a published port stops the container from starting, so the test
    publishes a range it has just found free (tests elsewhere may be using lab ports).
    """
    start = high - count + 1
    while start >= low:
        busy = [p for p in range(start, start + count) if not _free(p)]
        if not busy:
            return start, start + count - 1
        start = min(busy) - count
    raise SmokeFailure(f"no {count} consecutive free ports in {low}-{high}")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def inspect(container: str, template: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "-f", template, container],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout.strip()  # fmt: skip


def wait_healthy(container: str, started: float) -> float:
    while True:
        status = inspect(container, "{{.State.Health.Status}}")
        if status == "healthy":
            return time.monotonic() - started
        if status == "unhealthy" or time.monotonic() - started > HEALTHY_TIMEOUT:
            log = inspect(container, "{{json .State.Health.Log}}")
            raise SmokeFailure(f"the container is {status} after {HEALTHY_TIMEOUT} s: {log}")
        time.sleep(0.05)


def wait_health_checks(container: str, count: int) -> None:
    """Until Docker has run ``count`` more health checks (it keeps the last five)."""

    def starts() -> set[str]:
        return {e["Start"] for e in json.loads(inspect(container, "{{json .State.Health.Log}}"))}

    seen, deadline = starts(), time.monotonic() + 30
    while len(starts() - seen) < count:
        if time.monotonic() > deadline:
            raise SmokeFailure(f"Docker ran fewer than {count} health checks in 30 s")
        time.sleep(0.1)


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def post_json(url: str, body: object) -> dict[str, object]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            answer: dict[str, object] = json.load(resp)
    except urllib.error.HTTPError as exc:
        answer = json.load(exc)
    return answer


def room_of(logs: str) -> tuple[str, str]:
    """The instructor's token and the join code, as the container's log prints them."""
    token = re.findall(r"instructor: \S+\?token=(\S+)", logs)
    code = re.findall(r"join: \S+ +code (\w+)", logs)
    if not token or not code:
        raise SmokeFailure(f"no instructor URL or join code in the log: {logs[-800:]}")
    return token[-1], code[-1]


def roster(base: str, token: str) -> list[str]:
    request = urllib.request.Request(
        base + "/api/room", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return [p["name"] for p in json.load(resp)["participants"]]


def check_room_survives_a_restart(scenario: Scenario, base: str) -> str:
    """A participant joins; the container restarts; the roster is still there (the volume)."""
    logs = compose(scenario, "logs", "--no-color", "sockscope", timeout=60)
    if "/data/room.sqlite3" not in logs:
        raise SmokeFailure(f"the room is not kept in the volume: {logs[-800:]}")
    token, code = room_of(logs)
    joined = post_json(base + "/api/room/join", {"code": code, "name": "ana"})
    if "participant" not in joined:
        raise SmokeFailure(f"joining the room failed: {joined}")
    compose(scenario, "restart", timeout=120)
    wait_until_serving(base, HEALTHY_TIMEOUT)
    token, after = room_of(compose(scenario, "logs", "--no-color", "sockscope", timeout=60))
    names = roster(base, token)
    if after != code or "ana" not in names:
        raise SmokeFailure(f"after a restart: code {after} (was {code}), roster {names}")
    return f"code {code} and its participant kept across a restart"


def check_private_network(base: str, expected: bool) -> str:
    lab = post_json(base + "/api/labs", {})["id"]
    answer = post_json(
        f"{base}/api/labs/{lab}/commands",
        {"op": "socket", "name": "p", "options": {"network": "private"}},
    )
    message = str((answer.get("error") or {}).get("message", ""))  # type: ignore[union-attr]
    if expected and not answer.get("ok"):
        raise SmokeFailure(f"the private network was refused: {message}")
    if not expected and ("compose.private-network.yml" not in message or answer.get("ok")):
        raise SmokeFailure(f"a refused private network must name the compose file: {answer}")
    return "works" if expected else "refused, naming compose.private-network.yml"


def check_wire_lane(base: str) -> str:
    """A lab's segments are captured in the image: the handshake and the bytes sent come back
    in its pcapng (the server itself holds no capability: see check_capabilities)."""
    lab = post_json(base + "/api/labs", {})["id"]

    def command(body: dict[str, object]) -> dict[str, object]:
        answer = post_json(f"{base}/api/labs/{lab}/commands", body)
        if not answer.get("ok"):
            raise SmokeFailure(f"wire lane: {body} was refused: {answer}")
        return answer

    command({"op": "socket", "name": "srv"})
    bound = command({"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]})
    port = bound["result"]["address"][1]  # type: ignore[index]
    command({"op": "listen", "socket": "srv", "backlog": 5})
    command({"op": "socket", "name": "cli"})
    command({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    command({"op": "accept", "socket": "srv"})
    command({"op": "send", "socket": "cli", "text": "in the image"})
    deadline = time.monotonic() + 10
    while True:
        snapshot = get_json(f"{base}/api/labs/{lab}")
        capture = snapshot["capture"]  # type: ignore[index]
        if capture["state"] != "on":
            raise SmokeFailure(f"the wire lane does not capture in the image: {capture}")
        if capture["frames"] >= 5:  # SYN, SYN-ACK, ACK, the data, its ACK
            break
        if time.monotonic() > deadline:
            raise SmokeFailure(f"the wire lane saw too little: {capture}")
        time.sleep(0.1)
    with urllib.request.urlopen(f"{base}/api/labs/{lab}/capture.pcapng", timeout=10) as got:
        data = got.read()
    if not data.startswith(b"\x0a\x0d\x0d\x0a") or b"in the image" not in data:
        raise SmokeFailure("the pcapng export does not hold the bytes sent")
    if b"the SYN of cli.connect(" not in data:
        raise SmokeFailure("the pcapng export does not name the calls")
    return f"{capture['frames']} segments captured, pcapng of {len(data)} bytes"


def check_capabilities(scenario: Scenario, container: str) -> str:
    """What each process in the container holds: the server (and its lab hosts) nothing, the
    packet broker (PID 1: it reaps and forwards signals too) CAP_NET_RAW alone, a private
    network's helper whatever it has inside its own user namespace only, and no process at
    all runs as root."""
    script = (
        "import glob,os\n"
        "for st in sorted(glob.glob('/proc/[0-9]*/status')):\n"
        "    d=os.path.dirname(st)\n"
        "    try: cmd=open(d+'/cmdline','rb').read().replace(b'\\0',b' ').decode()\n"
        "    except OSError: continue\n"
        "    f=dict(l.split(':',1) for l in open(st).read().splitlines() if ':' in l)\n"
        "    try: ns=os.readlink(d+'/ns/user')\n"
        "    except OSError: ns='?'\n"  # (a process with more capabilities hides its links)
        "    print(f['Uid'].split()[0], f['CapEff'].strip(), ns, cmd)\n"
    )
    # (as the server's user: `exec` would be root, the image's first user, and so be listed)
    listing = compose(scenario, "exec", "-T", "--user", "sockscope", "sockscope", "python", "-c",
                      script, timeout=60)  # fmt: skip
    rows = [[*line.split(" ", 3), "", "", ""][:4] for line in listing.splitlines()]
    rows = [r for r in rows if r[0].isdigit()]  # the script's own continuation lines
    roots = [r for r in rows if r[0] == "0"]
    if roots:
        raise SmokeFailure(f"processes run as root in the container: {roots}")
    broker = [r for r in rows if "packetbroker" in r[3]]
    if [r[1] for r in broker] != ["0000000000002000"]:
        raise SmokeFailure(f"the packet broker should hold CAP_NET_RAW alone: {listing}")
    container_ns = next(r[2] for r in rows if r[3].rstrip().endswith("--port 8000")
                        and "packetbroker" not in r[3])  # fmt: skip
    held = {r[1] for r in rows if "sockscope" in r[3] and r is not broker[0]
            and "engine.privnet" not in r[3] and "import glob" not in r[3]}  # fmt: skip
    if held != {"0000000000000000"}:
        raise SmokeFailure(f"the server and its lab hosts should hold no capability: {listing}")
    helpers = [r for r in rows if "engine.privnet" in r[3]]
    if any(r[2] == container_ns and r[1] != "0000000000000000" for r in helpers):
        raise SmokeFailure(f"a private network's helper holds capabilities outside: {listing}")
    said = "packet broker CapEff 0x2000 (NET_RAW), server and lab hosts 0, no root"
    if helpers:
        said += f"; {len(helpers)} private-network helper(s), capable in their own namespace only"
    return said


def check_pulled_cable_lesson(base: str, expected: bool) -> str:
    """Lesson 9 pulls a private network's cable: in full where allowed, else skipped saying how."""
    lab = post_json(base + "/api/labs", {})["id"]
    done = post_json(f"{base}/api/labs/{lab}/lessons/{CABLE_LESSON}/run", {})
    checks = done.get("checks")
    if not isinstance(checks, list) or not checks:
        raise SmokeFailure(f"lesson {CABLE_LESSON} gave no checks: {done}")
    skipped = [c for c in checks if c.get("passed") is None]
    failed = [c for c in checks if c.get("passed") is False]
    if failed:
        raise SmokeFailure(f"lesson {CABLE_LESSON}: checks failed: {failed}")
    if expected and skipped:
        raise SmokeFailure(f"lesson {CABLE_LESSON} skipped checks: {skipped}")
    if not expected and not all("compose.private-network.yml" in str(c) for c in skipped):
        raise SmokeFailure(f"skipped checks must say which compose file to add: {skipped}")
    if not expected and not skipped:
        raise SmokeFailure(f"lesson {CABLE_LESSON} ran its private-network steps: {checks}")
    return f"{len(checks) - len(skipped)} checks passed, {len(skipped)} skipped"


def beyond_the_howto() -> list[tuple[str, str | None]]:
    """The lessons beyond the HOWTO (no HOWTO sections), and what each needs of the machine
    as a whole (a private network, IPv6), read from the lesson files."""
    import tomllib

    found = []
    for path in sorted((ROOT / "backend/sockscope/lessons/data").glob("*.toml")):
        raw = tomllib.loads(path.read_text())
        if not raw["howto_sections"]:
            found.append((str(raw["id"]), raw.get("needs")))
    return found


def check_beyond_lessons(base: str, private_network: bool) -> str:
    """Every lesson beyond the HOWTO runs to its end in the image with its checks passing;
    one that needs a private network the scenario lacks skips them, saying so. The
    dual-stack lesson must pass too: docker-compose.yml gives the container's loopback
    its ::1."""
    passed, skipped = [], []
    for lesson, needs in beyond_the_howto():
        lab = post_json(base + "/api/labs", {})["id"]
        done = post_json(f"{base}/api/labs/{lab}/lessons/{lesson}/run", {})
        checks = done.get("checks")
        if not isinstance(checks, list) or not checks:
            raise SmokeFailure(f"lesson {lesson} gave no checks: {done}")
        if needs == "private_network" and not private_network:
            if any(c.get("passed") is not None for c in checks):
                raise SmokeFailure(f"lesson {lesson} ran without a private network: {checks}")
            skipped.append(lesson)
        elif not all(c.get("passed") is True for c in checks):
            raise SmokeFailure(f"lesson {lesson}: checks did not pass: {checks}")
        else:
            passed.append(lesson)
        closing = urllib.request.Request(f"{base}/api/labs/{lab}", method="DELETE")
        with urllib.request.urlopen(closing, timeout=10):
            pass
    return f"{len(passed)} passed ({', '.join(passed)}); skipped: {', '.join(skipped) or 'none'}"


def run(scenario: Scenario) -> None:
    if scenario.http_port == 0:
        scenario.http_port = free_port()
    if scenario.name == "lab-ports":  # one variable sets both the lab and the published range
        scenario.lab_ports = free_range(10)
        scenario.env["SOCKSCOPE_LAB_PORTS"] = "{}-{}".format(*scenario.lab_ports)
    base = f"http://127.0.0.1:{scenario.http_port}"
    said = Said(f"[{scenario.name}]")
    compose(scenario, "down", "--remove-orphans", timeout=120, check=False)  # a stale run
    if scenario.name == "host-network" and not _free(scenario.http_port):
        # Another program would answer the health check in the container's place.
        raise SmokeFailure(f"host networking needs port {scenario.http_port}, which is in use")
    try:
        started = time.monotonic()
        compose(scenario, "up", "-d", "--no-build", timeout=180)
        container = compose(scenario, "ps", "-q", "sockscope").split()[0]
        serving = wait_until_serving(base, HEALTHY_TIMEOUT)
        healthy = wait_healthy(container, started)
        said.append(f"ok  up: serving after {serving:.1f} s, healthy after {healthy:.1f} s")
        info = get_json(base + "/api/server")
        if not isinstance(info, dict) or tuple(info["lab_ports"]) != scenario.lab_ports:
            raise SmokeFailure(f"expected lab ports {scenario.lab_ports}, /api/server: {info}")
        # The image sets SOCKSCOPE_IN_CONTAINER=1, so this proves the setting reaches the
        # server, not the detection (tests/api/test_server_info.py tests that on fake files).
        if not info.get("in_container"):
            raise SmokeFailure(f"the server does not know it runs in a container: {info}")
        said.extend(
            run_all(base, lessons=LESSONS, reach_host="127.0.0.1" if scenario.reach else None)
        )
        said.append(f"ok  private network: {check_private_network(base, scenario.private_network)}")
        said.append(f"ok  wire lane: {check_wire_lane(base)}")
        said.append(f"ok  capabilities: {check_capabilities(scenario, container)}")
        if scenario.name in ("default", "private-network"):
            result = check_pulled_cable_lesson(base, scenario.private_network)
            said.append(f"ok  lesson {CABLE_LESSON}: {result}")
            said.append(
                f"ok  beyond the HOWTO: {check_beyond_lessons(base, scenario.private_network)}"
            )
        if scenario.name == "default":
            said.append(f"ok  room: {check_room_survives_a_restart(scenario, base)}")
            container = compose(scenario, "ps", "-q", "sockscope").split()[0]
        wait_health_checks(container, 2)  # two more, which must leave no access line
        logs = compose(scenario, "logs", "--no-color", "sockscope", timeout=60)
        if "/healthz" in logs:
            raise SmokeFailure("health checks write to the access log")
        said.append("ok  health checks leave the log alone")
        stopping = time.monotonic()
        compose(scenario, "stop", timeout=120)
        stopped = time.monotonic() - stopping
        code = inspect(container, "{{.State.ExitCode}}")
        if code != "0":
            raise SmokeFailure(f"the container exited {code} on SIGTERM: {logs[-1500:]}")
        said.append(f"ok  stop: {stopped:.1f} s, exit code 0")
    except SmokeFailure:
        tail = compose(scenario, "logs", "--no-color", "--tail", "200", timeout=60, check=False)
        print(f"--- the container's log ({scenario.name}):\n{tail}", file=sys.stderr)
        raise
    finally:
        downing = time.monotonic()
        compose(scenario, "down", "--remove-orphans", timeout=180, check=False)
        said.append(f"ok  down: {time.monotonic() - downing:.1f} s")
        compose(scenario, "down", "--volumes", timeout=60, check=False)  # the room's volume too


SCENARIOS = [
    Scenario("default", ["docker-compose.yml"]),
    Scenario("lab-ports", ["docker-compose.yml", "compose.lab-ports.yml"], reach=True),
    Scenario(
        "host-network",
        ["docker-compose.yml", "compose.host-network.yml"],
        http_port=8000,  # the host's own port: host networking publishes nothing
        reach=True,
    ),
    Scenario(
        "private-network",
        ["docker-compose.yml", "compose.private-network.yml"],
        private_network=True,
    ),
]


def check_offline_rebuild() -> str:
    """After a code edit the image rebuilds with no network: the dependencies' layers hold.

    Builds a copy of the tree with one edited module on the cache of the build just made,
    and reads BuildKit's plain log: the pinned pip install and `npm ci` must come from the
    cache, and nothing may be downloaded. (A build with `network: none` cannot show this:
    the network mode is part of each step's cache key, so nothing would be reused.)
    """
    with tempfile.TemporaryDirectory(prefix="sockscope-offline-") as tmp:
        copy = Path(tmp)
        skip = shutil.ignore_patterns("node_modules", "static", "__pycache__", "*.egg-info")
        for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, copy / name)
        for name in ("backend", "frontend", "requirements"):
            shutil.copytree(ROOT / name, copy / name, ignore=skip)
        init = copy / "backend/sockscope/__init__.py"
        init.write_text(init.read_text() + "# edited by the offline rebuild check\n")
        (copy / "compose.yml").write_text(
            f"services:\n  offline:\n    build: .\n    image: {PROJECT}-offline:latest\n"
        )
        started = time.monotonic()
        done = subprocess.run(
            ["docker", "compose", "--progress", "plain", "-p", f"{PROJECT}-offline", "build"],
            check=False, cwd=copy, env={**os.environ, "COMPOSE_BAKE": "false"},
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        took = time.monotonic() - started
        subprocess.run(["docker", "image", "rm", f"{PROJECT}-offline:latest"],
                       check=False, capture_output=True, timeout=120)  # fmt: skip
    log = done.stdout + done.stderr
    if done.returncode != 0:
        raise SmokeFailure(f"the edited tree did not build: {log[-2000:]}")
    for step in ("--require-hashes -r requirements/run.txt", "npm ci"):
        if not re.search(
            rf"^#(\d+) \[[^\]]*\] RUN [^\n]*{re.escape(step)}.*\n#\1 CACHED", log, re.M
        ):
            raise SmokeFailure(
                f"a code edit re-ran `{step}`, which needs the network: {log[-3000:]}"
            )
    if re.search(r"Downloading|Collecting|added \d+ packages", log):
        raise SmokeFailure(f"a code edit downloaded packages: {log[-3000:]}")
    return f"a code edit rebuilt in {took:.1f} s from cached dependency layers, no download"


def main(argv: list[str]) -> int:
    chosen = [s for s in SCENARIOS if not argv or s.name in argv]
    if not chosen:
        print(f"FAILED: no scenario named {argv}; there are {[s.name for s in SCENARIOS]}")
        return 2
    try:
        subprocess.run(["docker", "info"], capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"FAILED: no Docker engine answers ({exc})", file=sys.stderr)
        return 1
    try:
        building = time.monotonic()
        compose(SCENARIOS[0], "build", timeout=1500)
        print(f"ok  image built in {time.monotonic() - building:.1f} s", flush=True)
        print(f"ok  {check_offline_rebuild()}", flush=True)
        for scenario in chosen:
            run(scenario)
    except (SmokeFailure, subprocess.SubprocessError, OSError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print("docker-test: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
