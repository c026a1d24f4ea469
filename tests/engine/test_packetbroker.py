"""The packet broker: a process that keeps CAP_NET_RAW alone, as an unprivileged user, and
hands out packet sockets that a lab without any capability turns into its wire lane."""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sockscope.engine import packetbroker
from sockscope.engine.core.frames import Frame, build_filter, parse
from sockscope.engine.packetring import PacketRing

NOBODY = 65534


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    if os.geteuid() != 0:
        pytest.fail(
            "the broker starts as root and drops to a user: run the suite as root (CI does)"
        )
    os.chmod(tmp_path, 0o755)
    path = str(tmp_path / "broker.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.bind(path)
    sock.listen(4)
    os.chown(path, NOBODY, NOBODY)
    yield sock, path
    sock.close()


def test_the_broker_holds_net_raw_alone_and_its_sockets_capture(
    listener: tuple[socket.socket, str],
) -> None:
    sock, path = listener
    status_r, status_w = os.pipe()
    child = os.fork()
    if child == 0:  # the broker: becomes nobody with CAP_NET_RAW, then serves
        try:
            os.close(status_r)
            packetbroker.keep_net_raw_only(NOBODY, NOBODY)
            with open("/proc/self/status") as status:
                os.write(status_w, status.read().encode())
            os.close(status_w)
            packetbroker.serve(sock)
        finally:
            os._exit(0)
    os.close(status_w)
    try:
        with os.fdopen(status_r) as reading:
            status = dict(line.split(":", 1) for line in reading.read().splitlines() if ":" in line)
        assert status["Uid"].split()[:2] == [str(NOBODY), str(NOBODY)]
        for capset in ("CapEff", "CapPrm", "CapBnd"):
            assert int(status[capset], 16) == 1 << packetbroker.CAP_NET_RAW, capset
        with socket.create_server(("127.0.0.1", 0)) as server:
            port = server.getsockname()[1]
            ring = PacketRing.adopt(packetbroker.ask(path), build_filter({port}, set()))
            try:
                client = socket.create_connection(("127.0.0.1", port))
                peer, _ = server.accept()
                client.sendall(b"via the broker")
                assert peer.recv(100) == b"via the broker"
                client.close()
                peer.close()
                got = _frames_until(ring, lambda seen: any(f.length for f in seen))
            finally:
                ring.close()
        data = [f for f in got if f.length]
        assert data[0].payload == b"via the broker" and data[0].dst[1] == port
        assert all(port in (f.src[1], f.dst[1]) for f in got)
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)


def test_a_broker_that_could_not_keep_the_capability_says_why(
    listener: tuple[socket.socket, str],
) -> None:
    sock, path = listener
    thread = threading.Thread(target=packetbroker.serve, args=(sock, "no CAP_NET_RAW here"))
    thread.start()
    try:
        with pytest.raises(OSError, match="no CAP_NET_RAW here"):
            packetbroker.ask(path)
    finally:
        sock.shutdown(socket.SHUT_RDWR)
        thread.join(5)


def _frames_until(
    ring: PacketRing, done: Callable[[list[Frame]], bool], timeout: float = 5.0
) -> list[Frame]:
    seen: list[Frame] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        select.select([ring.sock], [], [], 0.05)
        seen += [f for _, _, data in ring.frames() if (f := parse(data)) is not None]
        if done(seen):
            return seen
    raise AssertionError(f"no frames as wanted within {timeout} s: {seen}")
