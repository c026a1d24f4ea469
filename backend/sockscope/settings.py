"""Every knob of a Sockscope server, read from flags and SOCKSCOPE_* environment variables."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from sockscope.engine import machine
from sockscope.engine.core.policy import LabPolicy

STATIC_DIR = Path(__file__).parent / "static"


def detect_in_container(root: Path = Path("/")) -> bool:
    """Does this process run in a container, by the files that say so (see engine.machine)?

    SOCKSCOPE_IN_CONTAINER is read with the other variables, by :func:`from_env`.
    """
    return machine.in_container(root, environ={})


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    lab_ports: tuple[int, int] = (20000, 20999)  # below the ephemeral range: portrange.py
    allow_connect: tuple[str, ...] = ()  # CIDRs lab clients may reach beyond the lab ports
    allowed_origins: tuple[str, ...] = ()  # extra Origins accepted on the websocket
    # Names besides IP addresses and localhost the server answers to (the Host header).
    allowed_hosts: tuple[str, ...] = ()
    # 100 participants measured fine on 2 cores (bench 7: command p99 32 ms, 0 errors); past
    # about 150 one process runs out of descriptors below 1024 for select() (issue 11).
    max_labs: int = 120
    max_sockets: int = 16
    idle_timeout: float = 1800.0  # seconds without commands or viewers before a lab is reaped
    commands_per_second: float = 50.0
    event_log_capacity: int = 20000
    command_wait: float = 1.0  # how long a command answer waits for a blocking call
    static_dir: Path = field(default=STATIC_DIR)
    # In a container a lab server on 127.0.0.1 is out of reach of the host's programs.
    in_container: bool = field(default_factory=detect_in_container)
    # The container's lab ports are reachable from outside it (compose.lab-ports.yml, or
    # host networking); only the deployment knows, so it says so.
    lab_ports_published: bool = False
    # The room's SQLite file lives here (room.sqlite3); None keeps the room in memory (tests,
    # and create_app without a folder). The command fills in default_data_dir().
    data_dir: Path | None = None
    instructor_token: str | None = None  # None: a new random one at each start
    participants_per_client: int = 3  # participants one client address may hold
    joins_per_minute: int = 10  # join attempts per client address
    # Open labs (POST /api/labs, no room) per client address: held at once, made a minute;
    # and server-shape comparisons running at once in the server (api/quotas.py).
    labs_per_client: int = 20
    labs_per_minute: int = 30
    shapes_at_once: int = 2
    log_format: str = "text"  # or "json": one object a line (logs.py)
    # Lab-host processes that run the labs (labs/host.py); 0 runs them in this process.
    lab_hosts: int = 0

    def lab_policy(self) -> LabPolicy:
        return LabPolicy(
            port_min=self.lab_ports[0],
            port_max=self.lab_ports[1],
            allow_connect=tuple(ipaddress.ip_network(c, strict=False) for c in self.allow_connect),
            max_sockets=self.max_sockets,
            commands_per_second=self.commands_per_second,
            event_log_capacity=self.event_log_capacity,
        )

    def check(self) -> None:
        """Raises ValueError naming the setting that is out of range."""
        low, high = self.lab_ports
        if not 1 <= low <= high <= 65535:
            raise ValueError(f"lab ports: {low}-{high} is not a port range")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port: {self.port} is not a port")
        if low <= self.port <= high:
            raise ValueError(
                f"port: {self.port} is inside the lab port range {low}-{high}; lab sockets"
                " could then reach the server itself"
            )
        for cidr in self.allow_connect:
            ipaddress.ip_network(cidr, strict=False)  # raises ValueError with the bad text
        if self.max_labs < 1 or self.max_sockets < 2:
            raise ValueError("max labs must be at least 1 and max sockets at least 2")
        if not 0 <= self.lab_hosts <= 64:
            raise ValueError(f"lab hosts: 0 to 64, got {self.lab_hosts}")
        if self.log_format not in ("text", "json"):
            raise ValueError(f"log format: text or json, got {self.log_format!r}")
        if self.instructor_token is not None and len(self.instructor_token) < 16:
            raise ValueError("instructor token: at least 16 characters (it guards the room)")
        if self.participants_per_client < 1 or self.joins_per_minute < 1:
            raise ValueError("participants per client and joins per minute: at least 1")
        if min(self.labs_per_client, self.labs_per_minute, self.shapes_at_once) < 1:
            raise ValueError("labs per client, labs per minute and shapes at once: at least 1")


def default_data_dir(environ: dict[str, str] | None = None) -> Path:
    """Where the room is kept when no --data-dir is given: the user's data folder."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local/share")
    return Path(base) / "sockscope"


def parse_port_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        raise ValueError(f"lab ports: expected FROM-TO such as 20000-20999, got {text!r}") from None


def parse_flag(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}: expected 1 or 0, got {text!r}")


def from_env(environ: dict[str, str] | None = None) -> dict[str, object]:
    """The settings the environment gives (SOCKSCOPE_HOST, SOCKSCOPE_PORT, ...)."""
    env = os.environ if environ is None else environ
    found: dict[str, object] = {}
    text = {k[len("SOCKSCOPE_") :].lower(): v for k, v in env.items() if k.startswith("SOCKSCOPE_")}
    if "host" in text:
        found["host"] = text["host"]
    for name in ("data_dir",):
        if text.get(name):
            found[name] = Path(text[name])
    if text.get("log_format"):
        found["log_format"] = text["log_format"].strip().lower()
    if text.get("instructor_token"):
        found["instructor_token"] = text["instructor_token"]
    for name in (
        "port",
        "max_labs",
        "max_sockets",
        "event_log_capacity",
        "participants_per_client",
        "joins_per_minute",
        "labs_per_client",
        "labs_per_minute",
        "shapes_at_once",
        "lab_hosts",
    ):
        if name in text:
            found[name] = int(text[name])
    for name in ("idle_timeout", "commands_per_second"):
        if name in text:
            found[name] = float(text[name])
    for name in ("in_container", "lab_ports_published"):
        if name in text:
            found[name] = parse_flag(f"SOCKSCOPE_{name.upper()}", text[name])
    if "lab_ports" in text:
        found["lab_ports"] = parse_port_range(text["lab_ports"])
    for name in ("allow_connect", "allowed_origins", "allowed_hosts"):
        if text.get(name):
            found[name] = tuple(p.strip() for p in text[name].split(",") if p.strip())
    return found
