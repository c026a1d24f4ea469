"""The wire lane: a lab's own segments, captured off lo for real (AF_PACKET as root here)."""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sockscope.events import CaptureEvent, SegmentEvent

from helpers import wait_until


def segments(lab: Any) -> list[SegmentEvent]:
    return [e for e in lab.events("segment") if isinstance(e, SegmentEvent)]


def wait_segments(lab: Any, check: Any, what: str) -> list[SegmentEvent]:
    def ready() -> list[SegmentEvent] | None:
        found = segments(lab)
        return found if check(found) else None

    return wait_until(ready, 5.0, what)


def connected(lab: Any) -> int:
    port = lab.server()
    lab.ok({"op": "socket", "name": "cli"})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    lab.ok({"op": "accept", "socket": "srv"})
    return port


def test_the_handshake_data_and_fin_are_captured_once_each(lab: Any) -> None:
    port = connected(lab)
    lab.ok({"op": "send", "socket": "cli", "text": "hello"})
    lab.ok({"op": "close", "socket": "cli"})
    found = wait_segments(
        lab, lambda s: any("FIN" in e.flags for e in s) and s[-1].receiver == "cli", "FIN, ACK"
    )
    flags = [(e.sender, e.receiver, e.flags) for e in found]
    assert flags[:3] == [
        ("cli", "srv", "SYN"),
        ("srv", "cli", "SYN ACK"),
        ("cli", "srv", "ACK"),  # the handshake is the listener's, until accept() returns
    ]
    data = [e for e in found if e.length]
    assert [(e.sender, e.length, e.rel_seq, e.offset) for e in data] == [("cli", 5, 1, 0)]
    assert ("cli", "conn", "FIN ACK") in flags
    syn = found[0]
    assert syn.dst == ("127.0.0.1", port) and syn.rel_seq == 0 and syn.rel_ack is None
    assert syn.wscale is not None and syn.mss == 65495
    assert [e.frame for e in found] == list(range(1, len(found) + 1))
    # each frame once: lo shows it twice, and the filter keeps the arriving copy only
    assert len({(e.src, e.rel_seq, e.rel_ack, e.flags, e.length) for e in found}) == len(found)
    assert all(e.wire_ns <= e.t_ns for e in found)


def test_an_abort_sends_a_reset(lab: Any) -> None:
    connected(lab)
    lab.ok({"op": "abort", "socket": "cli"})
    found = wait_segments(lab, lambda s: any("RST" in e.flags for e in s), "the RST")
    rst = [e for e in found if "RST" in e.flags]
    assert [(e.sender, e.receiver) for e in rst] == [("cli", "conn")]
    assert not any("FIN" in e.flags for e in found)


def test_the_servers_own_traffic_is_never_captured(lab: Any) -> None:
    connected(lab)
    with socket.create_server(("127.0.0.1", 0)) as other:
        other_port = other.getsockname()[1]
        outside = socket.create_connection(("127.0.0.1", other_port))
        peer, _ = other.accept()
        outside.sendall(b"not the lab's")
        peer.recv(100)
        outside.close()
        peer.close()
    lab.ok({"op": "send", "socket": "cli", "text": "x"})
    found = wait_segments(lab, lambda s: any(e.length for e in s), "the lab's data")
    ports = {e.src[1] for e in found} | {e.dst[1] for e in found}
    assert other_port not in ports
    assert all(e.sender is not None and e.receiver is not None for e in found)


def test_a_zero_window_and_its_probe(lab: Any) -> None:
    port = lab.server(rcvbuf=4096, blocking=False)
    lab.ok({"op": "socket", "name": "cli", "options": {"sndbuf": 4096, "blocking": False}})
    lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    wait_until(lambda: lab.sock("cli")["role"] == "connected", what="connect to complete")
    lab.ok({"op": "accept", "socket": "srv"})
    lab.ok({"op": "send", "socket": "cli", "size": 65536})
    found = wait_segments(
        lab, lambda s: any("window probe" in e.notes for e in s), "a zero-window probe"
    )
    zero = [e for e in found if "zero window" in e.notes]
    assert zero and all(e.sender == "conn" and e.window == 0 for e in zero)


def test_capture_state_is_in_the_snapshot_and_the_log(lab: Any) -> None:
    connected(lab)
    assert lab.snapshot()["capture"]["state"] == "on"
    states = [e for e in lab.events("capture") if isinstance(e, CaptureEvent)]
    assert states and states[0].state == "on" and states[0].reason is None


# A lab in a child process that has no CAP_NET_RAW (it is dropped from the bounding set
# before exec, so even root cannot get it back): what a learner's `make run` as a user sees.
WITHOUT_CAP = """
import json, sys
sys.path[:0] = ["tests"]
from engine.conftest import LabDriver
from sockscope.engine.core.policy import LabPolicy
lab = LabDriver(LabPolicy())
port = lab.server()
lab.ok({"op": "socket", "name": "cli"})
lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
lab.ok({"op": "accept", "socket": "srv"})
lab.ok({"op": "send", "socket": "cli", "text": "still works"})
got = lab.ok({"op": "recv", "socket": "conn", "bufsize": 100}).result
print(json.dumps({"got": got, "capture": lab.snapshot()["capture"],
                  "events": [e.kind for e in lab.events()]}))
lab.close()
"""
PR_CAPBSET_DROP, CAP_NET_RAW = 24, 13


def _drop_net_raw() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_CAPBSET_DROP, CAP_NET_RAW, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _child(script: str, drop: Callable[[], None]) -> Any:
    """What ``script`` printed last (JSON), run by a child that ``drop``s capabilities first."""
    if os.geteuid() != 0:
        pytest.fail("this test drops capabilities from a child: run the suite as root (CI does)")
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        preexec_fn=drop,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_cap_net_raw_the_lane_says_why_and_the_lab_works() -> None:
    said = _child(WITHOUT_CAP, _drop_net_raw)
    assert said["got"]["len"] == len("still works")
    assert said["capture"]["state"] == "unavailable"
    assert "CAP_NET_RAW" in said["capture"]["reason"]
    assert "segment" not in said["events"] and "capture" in said["events"]


def test_a_private_network_has_its_own_lane(lab: Any) -> None:
    lab.server("psrv", network="private")
    port = lab.sock("psrv")["local"][1]
    lab.ok({"op": "socket", "name": "pcli", "options": {"network": "private"}})
    lab.ok({"op": "connect", "socket": "pcli", "address": ["127.0.0.1", port]})
    lab.ok({"op": "accept", "socket": "psrv", "name": "pconn"})
    lab.ok({"op": "send", "socket": "pcli", "text": "inside"})
    found = wait_segments(lab, lambda s: any(e.length for e in s), "the private data")
    assert [(e.sender, e.receiver, e.flags) for e in found[:2]] == [
        ("pcli", "psrv", "SYN"),
        ("psrv", "pcli", "SYN ACK"),
    ]
    assert [e.length for e in found if e.length] == [6]
    assert set(lab.engine.capture.lanes) == {"host", "private"}


def test_a_pulled_cable_shows_its_retransmissions(lab: Any) -> None:
    lab.server("psrv", network="private")
    port = lab.sock("psrv")["local"][1]
    lab.ok({"op": "socket", "name": "pcli", "options": {"network": "private"}})
    lab.ok({"op": "connect", "socket": "pcli", "address": ["127.0.0.1", port]})
    lab.ok({"op": "accept", "socket": "psrv", "name": "pconn"})
    lab.ok({"op": "cable", "plugged": False})
    lab.ok({"op": "send", "socket": "pcli", "text": "lost"})
    found = wait_segments(
        lab, lambda s: sum("retransmission" in e.notes for e in s) >= 3, "three retransmissions"
    )
    data = [e for e in found if e.length and e.sender == "pcli"]
    assert [e.rel_seq for e in data[:4]] == [1, 1, 1, 1]  # the same bytes, again and again
    assert data[1].notes == ("retransmission",) and data[0].notes == ()
    gaps = [b.wire_ns - a.wire_ns for a, b in itertools.pairwise(data[:4])]
    assert gaps[-1] > 1.5 * gaps[0], gaps  # the back-off doubles
    assert not [e for e in found if e.sender == "pconn" and e.length == 0 and e.rel_ack == 5]
    lab.ok({"op": "cable", "plugged": True})
    got = lab.ok({"op": "recv", "socket": "pconn", "bufsize": 10})  # delivered at last
    assert got.result["len"] == 4


# The same in a child with neither CAP_NET_RAW nor CAP_SYS_ADMIN: the machine's lo is not
# the lab's to capture, and its private network is an unprivileged user namespace, which
# holds CAP_NET_RAW over its own lo: the lane works there.
WITHOUT_PRIVILEGE = """
import json, sys, time
sys.path[:0] = ["tests"]
from engine.conftest import LabDriver
from sockscope.engine.core.policy import LabPolicy
lab = LabDriver(LabPolicy())
lab.server("psrv", network="private")
port = lab.sock("psrv")["local"][1]
lab.ok({"op": "socket", "name": "pcli", "options": {"network": "private"}})
lab.ok({"op": "connect", "socket": "pcli", "address": ["127.0.0.1", port]})
lab.ok({"op": "accept", "socket": "psrv", "name": "pconn"})
lab.ok({"op": "send", "socket": "pcli", "text": "no root"})
deadline = time.monotonic() + 10
while not any(e.kind == "segment" and e.length for e in lab.events()):
    assert time.monotonic() < deadline, "no private segment"
    time.sleep(0.01)
print(json.dumps({"how": lab.snapshot()["network"]["how"], "capture": lab.snapshot()["capture"],
                  "flags": [e.flags for e in lab.events("segment")]}))
lab.close()
"""
CAP_SYS_ADMIN = 21


def _drop_net_raw_and_sys_admin() -> None:
    _drop_net_raw()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_without_privilege_a_private_network_still_captures() -> None:
    said = _child(WITHOUT_PRIVILEGE, _drop_net_raw_and_sys_admin)
    assert said["how"] == "an unprivileged user and network namespace"
    assert said["capture"]["state"] == "on"
    assert said["flags"][:3] == ["SYN", "SYN ACK", "ACK"]


def test_capture_off_by_policy_opens_nothing() -> None:
    from engine.conftest import LabDriver

    from sockscope.engine.core.policy import LabPolicy

    lab = LabDriver(LabPolicy(capture=False))
    try:
        connected(lab)
        lab.ok({"op": "send", "socket": "cli", "text": "x"})
        assert lab.snapshot()["capture"]["state"] == "off"
        assert lab.engine.capture.socks == () and not lab.engine.capture.lanes
        assert not lab.events("segment") and not lab.events("capture")
    finally:
        lab.close()


def test_past_the_servers_share_of_capturing_labs_the_lane_says_so() -> None:
    from engine.conftest import LabDriver

    from sockscope.engine import capture
    from sockscope.engine.core.policy import LabPolicy

    room = len(capture._CAPTURING) + 1  # one more than this process captures now
    policy = LabPolicy(capture_labs=room)
    first, second = LabDriver(policy), LabDriver(policy)
    try:
        first.server()
        second.server()
        assert first.snapshot()["capture"]["state"] == "on"
        refused = second.snapshot()["capture"]
        assert refused["state"] == "unavailable"
        assert f"captures {room} labs at once" in refused["reason"]
    finally:
        first.close()
        second.close()
    third = LabDriver(policy)  # the first one's place is free again
    try:
        third.server()
        assert third.snapshot()["capture"]["state"] == "on"
    finally:
        third.close()
