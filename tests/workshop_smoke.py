"""What a workshop participant does first, checked against a running Sockscope server.

Used three ways, always against a real server:
- by `tests/test_workshop_smoke.py`, against the source tree's server in this process;
- by `tests/installed/check_wheel.py`, against the `sockscope` command of a freshly built
  wheel installed in a fresh virtual environment (`make check-installed`);
- by `tests/installed/check_docker.py`, through the published ports of
  `docker compose up` (`make docker-test`).

Standard library and `websockets` only, so it runs wherever Sockscope's own dependencies do.
Every wait has a deadline. Run it by hand: `python tests/workshop_smoke.py http://127.0.0.1:8000`.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.sync.client import connect as ws_connect

MIB = 1 << 20
QUICK_LESSON = "partial-send"  # runs in a second or two and needs no private network


class SmokeFailure(AssertionError):
    pass


@dataclass
class Smoke:
    base: str
    timeout: float = 20.0
    done: list[str] = field(default_factory=list)

    # -- HTTP -----------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any, str]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw, status, kind = resp.read(), resp.status, resp.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            raw, status, kind = exc.read(), exc.code, exc.headers.get_content_type()
        text = raw.decode("utf-8", "replace")
        return status, (json.loads(text) if kind == "application/json" and text else None), text

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, parsed, text = self.request(method, path, body)
        if status >= 300:
            raise SmokeFailure(f"{method} {path} answered {status}: {text[:300]}")
        return parsed

    def command(self, lab: str, command: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.ok("POST", f"/api/labs/{lab}/commands", command)
        if not answer.get("ok") and not (
            command["op"] == "connect" and (answer.get("error") or {}).get("errno") == "EINPROGRESS"
        ):
            raise SmokeFailure(f"{command} was refused: {answer.get('error')}")
        return answer

    def check(self, what: str, step: Callable[[], str]) -> None:
        detail = step()
        self.done.append(f"ok  {what}: {detail}")

    # -- the checks -------------------------------------------------------------------
    def ui_served(self) -> str:
        status, _, html = self.request("GET", "/")
        if status != 200 or 'id="app"' not in html:
            raise SmokeFailure(f"GET / answered {status} without the app shell: {html[:200]}")
        assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)
        if not any(a.endswith(".js") for a in assets):
            raise SmokeFailure(f"the page references no script: {html[:300]}")
        for asset in assets:
            code, _, _ = self.request("GET", asset)
            if code != 200:
                raise SmokeFailure(f"GET {asset} answered {code}")
        return f"/ and its {len(assets)} assets"

    def lessons_listed(self, expected: int | None) -> str:
        lessons: list[dict[str, Any]] = self.ok("GET", "/api/lessons")
        ids = [lesson["id"] for lesson in lessons]
        if not ids or (expected is not None and len(ids) != expected):
            raise SmokeFailure(f"expected {expected or 'some'} lessons, the server lists {ids}")
        if QUICK_LESSON not in ids:
            raise SmokeFailure(f"lesson {QUICK_LESSON!r} is not listed: {ids}")
        return f"{len(ids)} lessons"

    def lesson_runs(self) -> str:
        lab = self.ok("POST", "/api/labs")["id"]
        try:
            done = self.ok("POST", f"/api/labs/{lab}/lessons/{QUICK_LESSON}/run")
        finally:
            self.request("DELETE", f"/api/labs/{lab}")
        checks = done.get("checks") or []
        failed = [c for c in checks if c.get("passed") is False]
        if not done.get("finished") or not checks or failed:
            raise SmokeFailure(f"lesson {QUICK_LESSON} ended {done.get('finished')}: {failed}")
        return f"{QUICK_LESSON} ran to its end, {len(checks)} checks passed"

    def partial_send(self, bind_host: str = "127.0.0.1") -> tuple[str, int, str]:
        """A server that does not read, a 4 KiB send buffer, send(1 MiB): fewer bytes go."""
        lab = self.ok("POST", "/api/labs")["id"]
        options = {"rcvbuf": 4096, "blocking": False, "auto_accept": True}
        self.command(lab, {"op": "socket", "name": "srv", "options": options})
        port = self.command(lab, {"op": "bind", "socket": "srv", "address": [bind_host, 0]})[
            "result"
        ]["address"][1]
        self.command(lab, {"op": "listen", "socket": "srv", "backlog": 5})
        self.command(lab, {"op": "socket", "name": "cli",
                           "options": {"sndbuf": 4096, "blocking": False}})  # fmt: skip
        self.command(lab, {"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
        self.wait_for(lambda: self.state_of(lab, "cli") == "ESTABLISHED", "cli to connect")
        sent = self.command(lab, {"op": "send", "socket": "cli", "size": MIB})["result"]
        if not isinstance(sent, int) or not 0 < sent < MIB:
            raise SmokeFailure(f"send(1 MiB) through a 4 KiB buffer returned {sent!r}")
        return lab, port, f"send(1 MiB) returned {sent}"

    def websocket_streams(self, lab: str) -> str:
        """The lab's websocket gives a snapshot, then the events of a new call, live."""
        url = self.base.replace("http", "ws", 1) + f"/api/labs/{lab}/ws"
        with ws_connect(url, origin=self.base, open_timeout=self.timeout) as ws:  # type: ignore[arg-type]
            first = json.loads(ws.recv(timeout=self.timeout))
            if first.get("type") != "lab/snapshot":
                raise SmokeFailure(f"the websocket's first message is not a snapshot: {first}")
            ws.send(json.dumps({"id": 1, "op": "recv", "socket": "conn", "bufsize": 4096}))
            deadline = time.monotonic() + self.timeout
            answered = live = False
            while not (answered and live):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SmokeFailure("the websocket did not answer the recv and stream it")
                message = json.loads(ws.recv(timeout=left))
                answered |= message.get("type") == "command/result" and message.get("id") == 1
                live |= message.get("type") == "events/batch" and any(
                    e.get("kind") == "call" and e.get("op") == "recv"
                    for e in message.get("events", [])
                )
        return "snapshot, answer and live events"

    def host_program_reaches(self, lab: str, port: int, host: str) -> str:
        """A program outside the server (nc, python) connects to a lab server and is read.

        Through Docker's published ports the lab sees docker-proxy's address as the peer, so
        the accepted connection is found as the new one, and proven by the bytes it carries.
        """
        known = {s["name"] for s in self.ok("GET", f"/api/labs/{lab}")["sockets"]}
        hello = b"hello from outside\n"
        with socket.create_connection((host, port), timeout=self.timeout) as conn:
            conn.sendall(hello)
            accepted: list[str] = []

            def new_connection() -> bool:
                sockets = self.ok("GET", f"/api/labs/{lab}")["sockets"]
                accepted[:] = [s["name"] for s in sockets if s["name"] not in known]
                return bool(accepted)

            self.wait_for(new_connection, "the lab to accept the outside program")
            got = self.command(lab, {"op": "recv", "socket": accepted[0], "bufsize": 100})
            if got["result"].get("head") != repr(hello):
                raise SmokeFailure(f"the lab read {got['result']!r}, not {hello!r}")
        return f"{host}:{port} accepted a program on this machine and read its bytes"

    # -- helpers ---------------------------------------------------------------------
    def state_of(self, lab: str, name: str) -> str | None:
        for s in self.ok("GET", f"/api/labs/{lab}")["sockets"]:
            if s["name"] == name:
                state: str = s["figures"]["state"]
                return state
        return None

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not condition():
            if time.monotonic() > deadline:
                raise SmokeFailure(f"timed out after {self.timeout} s waiting for {what}")
            time.sleep(0.05)


def wait_until_serving(base: str, timeout: float) -> float:
    """Seconds until GET /healthz answers 200, or SmokeFailure at the deadline."""
    start = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return time.monotonic() - start
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() - start > timeout:
            raise SmokeFailure(f"{base}/healthz did not answer within {timeout} s")
        time.sleep(0.05)


def run_all(base: str, *, lessons: int | None = None, reach_host: str | None = None) -> list[str]:
    """Every check in a participant's order; raises SmokeFailure on the first that fails.

    Args:
        base: the server's URL, e.g. http://127.0.0.1:8000.
        lessons: how many lessons the server must list (None: at least one).
        reach_host: connect from this process to a lab server bound to 0.0.0.0 through
            this address (a published port); None skips that check.
    """
    smoke = Smoke(base.rstrip("/"))
    smoke.check("the web interface is served", smoke.ui_served)
    smoke.check("lessons are listed", lambda: smoke.lessons_listed(lessons))
    smoke.check("a lesson runs to its end", smoke.lesson_runs)
    lab, port, said = smoke.partial_send("0.0.0.0" if reach_host else "127.0.0.1")
    smoke.check("a lab's send() is partial", lambda: said)
    smoke.check("the lab's websocket streams", lambda: smoke.websocket_streams(lab))
    if reach_host:
        smoke.check(
            "a program on the host reaches a lab server",
            lambda: smoke.host_program_reaches(lab, port, reach_host),
        )
    smoke.request("DELETE", f"/api/labs/{lab}")
    return smoke.done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("url", help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--lessons", type=int, help="how many lessons must be listed")
    parser.add_argument("--reach-host", help="also connect to a lab server through this address")
    args = parser.parse_args(argv)
    try:
        for line in run_all(args.url, lessons=args.lessons, reach_host=args.reach_host):
            print(line, flush=True)
    except SmokeFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
