"""select() and FD_SETSIZE: a descriptor numbered 1024 or more is out of select()'s reach.

select() takes fd_set bitmaps of FD_SETSIZE (1024) bits: it cannot even be asked about
descriptor 1024. CPython checks and raises ValueError; C code that forgets to check writes
past the bitmap. poll() and epoll take a list of descriptors instead, of any number.

The experiment needs a thousand descriptors, so it runs in a child process of its own,
never in the server (whose descriptors every lab shares): the child opens sockets until
the next one is numbered at least ``at_least``, then asks select(), poll() and epoll
whether a socket with a byte waiting is readable, first for a low descriptor, then for
the high one. It prints what happened as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys

from sockscope.contract.workbench import FdLimitReport

FD_SETSIZE = 1024

_CHILD = r"""
import json, resource, select, socket, sys
at_least = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = at_least + 16
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
def ask(sock):
    said = {}
    try:
        r, _, _ = select.select([sock], [], [], 0)
        said["select"] = "readable" if r else "not readable"
    except ValueError as exc:
        said["select"] = f"ValueError: {exc}"
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    said["poll"] = "readable" if poller.poll(0) else "not readable"
    ep = select.epoll()
    ep.register(sock.fileno(), select.EPOLLIN)
    said["epoll"] = "readable" if ep.poll(0) else "not readable"
    ep.close()
    return said
low_a, low_b = socket.socketpair()
low_a.send(b"x")
fillers = []
while True:
    s = socket.socket()
    if s.fileno() >= at_least - 1:
        s.close()
        break
    fillers.append(s)
high_a, high_b = socket.socketpair()
high_a.send(b"x")
print(json.dumps({"at_least": at_least, "opened": len(fillers) + 4,
                  "low": {"fd": low_b.fileno(), **ask(low_b)},
                  "high": {"fd": high_b.fileno(), **ask(high_b)}}))
"""


def probe(at_least: int = FD_SETSIZE, timeout: float = 20.0) -> FdLimitReport:
    """Run the experiment in a child process; raises RuntimeError if the child fails."""
    if not 8 <= at_least <= 4096:
        raise ValueError(f"at_least: 8 to 4096, got {at_least}")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(at_least)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the descriptor experiment failed: {done.stderr.strip()[-300:]}")
    report: FdLimitReport = json.loads(done.stdout)
    return report


def describe(report: FdLimitReport) -> str:
    """The experiment's outcome in words, as a lesson's step and its check say it."""
    low, high = report["low"], report["high"]
    return (
        f"{report['opened']} sockets open; fd {low['fd']}: select() {low['select']};"
        f" fd {high['fd']}: select() {high['select']}, poll() {high['poll']},"
        f" epoll {high['epoll']}"
    )
