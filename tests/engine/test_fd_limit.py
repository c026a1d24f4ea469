"""accept() at select()'s limit: the answer says why the connection was closed at once.

For real: the test process fills every free descriptor below 1024 (FD_SETSIZE) with
copies of /dev/null, so the kernel gives the next accepted connection 1024 or more.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator

import pytest
from engine.conftest import LabDriver

from sockscope.engine.sockets import FD_SETSIZE

HEADROOM = 64  # descriptors above the limit the lab and the test may still need


@pytest.fixture
def room_above_the_limit() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FD_SETSIZE + HEADROOM
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard}: no descriptor above {FD_SETSIZE}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Filler:
    """Takes every free descriptor below FD_SETSIZE (the kernel hands out the lowest free)."""

    def __init__(self) -> None:
        self.held: list[int] = []

    def fill(self) -> None:
        base = os.open(os.devnull, os.O_RDONLY)
        self.held.append(base)
        while self.held[-1] < FD_SETSIZE - 1:
            self.held.append(os.dup(base))

    def release(self) -> None:
        while self.held:
            os.close(self.held.pop())


@pytest.fixture
def filler(room_above_the_limit: None) -> Iterator[Filler]:
    each = Filler()
    try:
        yield each
    finally:
        each.release()


def pending_connection(lab: LabDriver, **server: object) -> None:
    port = lab.server(**server)  # type: ignore[arg-type]
    lab.ok({"op": "socket", "name": "cli"})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})


@pytest.mark.parametrize("blocking", [False, True], ids=["on-the-lab-thread", "on-a-worker"])
def test_accept_past_fd_setsize_says_why(lab: LabDriver, filler: Filler, blocking: bool) -> None:
    pending_connection(lab, blocking=blocking)
    filler.fill()
    answer = lab.run({"op": "accept", "socket": "srv", "name": "conn"})
    filler.release()
    assert not answer.ok
    assert answer.error is not None, "ok false with no error"
    message = answer.error["message"]
    assert message and "FD_SETSIZE" in message and str(FD_SETSIZE) in message, message
    assert "closed" in message
    assert "conn" not in lab.engine.sockets  # not kept: select() could not watch it
    accepts = lab.calls("srv", "accept")
    assert accepts and accepts[-1].via == ("worker" if blocking else "command")
    # The lab goes on: the next connection is accepted normally.
    lab.ok({"op": "socket", "name": "cli2"})
    port = lab.sock("srv")["local"][1]
    lab.ok({"op": "connect", "socket": "cli2", "address": ["127.0.0.1", port]})
    assert lab.ok({"op": "accept", "socket": "srv", "name": "conn"}).result["socket"] == "conn"


def test_accept_at_the_process_limit_names_the_errno(lab: LabDriver, filler: Filler) -> None:
    pending_connection(lab, blocking=False)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    filler.fill()
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_SETSIZE, hard))  # no descriptor left at all
    try:
        answer = lab.run({"op": "accept", "socket": "srv"})
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        filler.release()
    assert not answer.ok and answer.error is not None
    assert answer.error["errno"] == "EMFILE" and answer.error["message"], answer.error


def test_auto_accept_past_fd_setsize_tells_the_viewers(lab: LabDriver, filler: Filler) -> None:
    from helpers import wait_until

    port = lab.server(blocking=False)
    lab.ok({"op": "socket", "name": "cli"})
    filler.fill()
    try:
        lab.ok({"op": "auto", "socket": "srv", "accept": True})
        lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
        notice = wait_until(
            lambda: [e for e in lab.events("notice") if "FD_SETSIZE" in e.message],  # type: ignore[union-attr]
            what="a notice about the accepted connection",
        )
    finally:
        filler.release()
    assert notice[0].socket == "srv"  # type: ignore[union-attr]
    assert [n for n in lab.engine.sockets if n.startswith("conn")] == []
