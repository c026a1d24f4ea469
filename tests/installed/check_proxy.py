"""`make proxy-test`: two rooms behind nginx, routed by host name, as docs/api.md says.

docs/api.md ("Beyond one machine") shows an nginx server block that routes one room's host
name to its Sockscope server. This check takes that very block from the docs, points it at two
real servers started here (room-a and room-b, each with its own port, lab ports, token and
data folder, told their names with --allowed-host and --allowed-origin), runs nginx on
127.0.0.1 with it, and checks through the proxy only:

  1. each name reaches its own server (its instructor token works there and not on the other);
  2. a join counts the participant's own address, not the proxy's (X-Forwarded-For, which
     uvicorn trusts from 127.0.0.1 by default: FORWARDED_ALLOW_IPS): a fourth participant
     from one address is refused, participants from 127.0.0.5 and 127.0.0.6 are not;
  3. a participant's websocket works through the proxy: the snapshot, a command's answer and
     the batch with its events.

Needs nginx (`make proxy-test` installs nginx-light with apt when run as root). Prints what it
checked; exits non-zero, saying why, on the first failure.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "api.md"
DEADLINE = 30.0


class Failed(Exception):
    pass


def documented_block() -> str:
    """The nginx example of docs/api.md: the map line and the first server block."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"```nginx\n(.*?)```", text, re.S)
    if found is None:
        raise Failed("docs/api.md has no ```nginx example")
    block = found.group(1)
    if "server_name room-a.workshop.lan;" not in block or "10.0.0.11:8000" not in block:
        raise Failed("the nginx example no longer routes room-a.workshop.lan to 10.0.0.11:8000")
    return block


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def nginx_conf(folder: Path, listen: int, ports: dict[str, int]) -> str:
    block = documented_block()
    map_line, _, server = block.partition("\n")
    server = server.split("# ...")[0].strip()
    servers = []
    for room, port in ports.items():
        one = server.replace("listen 80;", f"listen 127.0.0.1:{listen};")
        one = one.replace("room-a.workshop.lan", f"{room}.workshop.lan")
        servers.append(one.replace("10.0.0.11:8000", f"127.0.0.1:{port}"))
    temp = "\n".join(
        f"    {kind}_temp_path {folder}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
        f"events {{ worker_connections 256; }}\nhttp {{\n    access_log {folder}/access.log;\n"
        f"{temp}\n    {map_line}\n" + "\n".join(servers) + "\n}\n"
    )


@contextmanager
def server(room: str, port: int, labs: str, folder: Path) -> Iterator[str]:
    """A Sockscope server for one room; yields its instructor token."""
    token = f"{room}-instructor-token-0123456789"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCKSCOPE_")}
    env["FORWARDED_ALLOW_IPS"] = "127.0.0.1"  # the proxy: uvicorn's default, said aloud
    log = open(folder / f"{room}.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sockscope", "--host", "127.0.0.1", "--port", str(port),
         "--lab-ports", labs, "--allowed-host", f"{room}.workshop.lan",
         "--allowed-origin", f"http://{room}.workshop.lan", "--instructor-token", token,
         "--data-dir", str(folder / room)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        yield token
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def client(listen: int, room: str, source: str = "127.0.0.1") -> httpx.Client:
    """Talks to the proxy, as a browser that typed http://ROOM.workshop.lan/ would."""
    return httpx.Client(
        base_url=f"http://127.0.0.1:{listen}",
        headers={"Host": f"{room}.workshop.lan", "Origin": f"http://{room}.workshop.lan"},
        transport=httpx.HTTPTransport(local_address=source),
        trust_env=False,
        timeout=10,
    )


def wait_healthy(listen: int, rooms: list[str]) -> None:
    deadline = time.monotonic() + DEADLINE
    for room in rooms:
        with client(listen, room) as c:
            while True:
                try:
                    if c.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise Failed(f"{room} did not answer through nginx in {DEADLINE:g} s")
                time.sleep(0.1)


def check(listen: int, tokens: dict[str, str]) -> None:
    a, b = tokens["room-a"], tokens["room-b"]
    with client(listen, "room-a") as ca, client(listen, "room-b") as cb:
        own = ca.get("/api/room", headers={"Authorization": f"Bearer {a}"})
        other = cb.get("/api/room", headers={"Authorization": f"Bearer {a}"})
        if own.status_code != 200 or other.status_code != 401:
            raise Failed(f"room-a's token: {own.status_code} at room-a, {other.status_code} at b")
        code = own.json()["code"]
        if cb.get("/api/room", headers={"Authorization": f"Bearer {b}"}).json()["code"] == code:
            raise Failed("both names reached the same room")
        print("  1. room-a.workshop.lan and room-b.workshop.lan reach their own rooms")
    joined = []
    for i in range(4):  # four browsers (a client each: a joined browser keeps its cookie)
        with client(listen, "room-a") as c:
            joined.append(c.post("/api/room/join", json={"code": code, "name": f"p{i}"}))
    if [r.status_code for r in joined] != [201, 201, 201, 429]:
        answers = [r.status_code for r in joined]
        raise Failed(f"4 joins from one address answered {answers}, not 201 x 3 then 429")
    others = []
    for source in ("127.0.0.5", "127.0.0.6"):
        with client(listen, "room-a", source) as c:
            others.append(c.post("/api/room/join", json={"code": code, "name": source}))
    if [r.status_code for r in others] != [201, 201]:
        raise Failed(f"joins from two other addresses: {[r.status_code for r in others]}")
    print("  2. joins count each participant's address (the 4th from one refused, 2 others in)")
    lab, token = others[0].json()["lab"], others[0].json()["token"]
    sock = socket.create_connection(("127.0.0.1", listen), timeout=5)
    with connect(
        f"ws://room-a.workshop.lan/api/labs/{lab}/ws",
        sock=sock,
        additional_headers={"Origin": "http://room-a.workshop.lan",
                            "Authorization": f"Bearer {token}"},
        open_timeout=5,
    ) as ws:  # fmt: skip
        first = json.loads(ws.recv(timeout=5))
        if first["type"] != "lab/snapshot":
            raise Failed(f"the websocket's first message was {first['type']}")
        ws.send(json.dumps({"op": "socket", "name": "srv", "id": 7}))
        seen: set[str] = set()
        deadline = time.monotonic() + 10
        while not {"command/result", "call"} <= seen:
            if time.monotonic() > deadline:
                raise Failed(f"no answer and call event through the proxy in 10 s: {seen}")
            message = json.loads(ws.recv(timeout=5))
            seen.add(message["type"])
            if message["type"] == "command/result" and not message["ok"]:
                raise Failed(f"socket() through the proxy: {message}")
            seen.update(e["kind"] for e in message.get("events", []))
    print("  3. a participant's websocket through nginx: snapshot, answer, events")


def main() -> int:
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )
    if nginx is None:
        print("proxy-test: nginx is not installed (apt-get install -y nginx-light)")
        return 1
    folder = Path(tempfile.mkdtemp(prefix="sockscope-proxy-"))
    listen = free_port()
    ports = {"room-a": free_port(), "room-b": free_port()}
    labs = {"room-a": "21000-21049", "room-b": "21100-21149"}
    print(f"two rooms behind nginx on 127.0.0.1:{listen}, the block from docs/api.md")
    try:
        with (
            server("room-a", ports["room-a"], labs["room-a"], folder) as ta,
            server("room-b", ports["room-b"], labs["room-b"], folder) as tb,
        ):
            (folder / "nginx.conf").write_text(nginx_conf(folder, listen, ports))
            conf = str(folder / "nginx.conf")
            done = subprocess.run(
                [nginx, "-c", conf, "-t"], capture_output=True, text=True, timeout=20, check=False
            )
            if done.returncode != 0:
                raise Failed(f"nginx -t: {done.stderr.strip()}")
            proxy = subprocess.Popen([nginx, "-c", str(folder / "nginx.conf"),
                                      "-g", "daemon off;"])  # fmt: skip
            try:
                wait_healthy(listen, list(ports))
                check(listen, {"room-a": ta, "room-b": tb})
            finally:
                proxy.terminate()
                proxy.wait(10)
    except Failed as exc:
        print(f"proxy-test FAILED: {exc}")
        for log in sorted(folder.glob("*.log")):
            print(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-10:]))
        return 1
    shutil.rmtree(folder, ignore_errors=True)
    print("proxy-test: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
