"""A large sendall (more than STREAM_ABOVE bytes of the pattern) is made as it is sent, and
what arrives is still the pattern, byte for byte, from where the socket's stream stood."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from sockscope.engine.core.payload import STREAM_ABOVE, pattern

from helpers import wait_until

MIB = 1024 * 1024
SIZE = 12 * MIB  # three times STREAM_ABOVE: many sheets, buffers rewritten in place


class Reader:
    """An outside program in the lab's port range that reads all it is sent (deadline 30 s)."""

    def __init__(self, lab: Any) -> None:
        self.listener = socket.socket()
        for port in range(lab.policy.port_min, lab.policy.port_max + 1):
            try:
                self.listener.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        self.port = port
        self.listener.listen(1)
        self.got = bytearray()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        deadline = time.monotonic() + 30
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(1)
            while time.monotonic() < deadline:
                try:
                    chunk = conn.recv(1 << 20)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                self.got += chunk

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=35)


@pytest.fixture
def reader(lab: Any) -> Any:
    made = Reader(lab)
    yield made
    made.close()


def connect(lab: Any, reader: Reader, *, blocking: bool) -> None:
    lab.ok({"op": "socket", "name": "cli", "options": {"blocking": blocking}})
    lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", reader.port]})
    wait_until(lambda: lab.sock("cli")["role"] == "connected", what="connect to complete")


def test_streamed_sendall_arrives_byte_exact_after_a_small_send(lab, reader) -> None:  # type: ignore[no-untyped-def]
    assert SIZE > STREAM_ABOVE
    connect(lab, reader, blocking=False)
    lab.ok({"op": "send", "socket": "cli", "size": 1000})  # the stream stands at 1000
    queued = lab.ok({"op": "sendall", "socket": "cli", "size": SIZE})
    assert queued.result["queued"] == SIZE
    done = wait_until(lambda: lab.calls("cli", "sendall"), timeout=30, what="sendall to finish")
    assert done[0].asked == SIZE and done[0].done == SIZE and done[0].errno is None
    lab.ok({"op": "close", "socket": "cli"})
    wait_until(lambda: len(reader.got) >= SIZE + 1000, timeout=30, what="the reader to get all")
    reader.thread.join(timeout=5)
    assert len(reader.got) == SIZE + 1000
    assert reader.got == pattern(0, SIZE + 1000)

    sends = [c for c in lab.calls("cli", "send") if c.via == "loop" or c.asked != 1000]
    assert sum(c.done or 0 for c in sends) == SIZE
    left = SIZE
    for call in sends:
        start = SIZE - left
        if call.line.endswith(f"[{start}:])"):  # asked for all that was left
            assert call.asked == left and (call.done or 0) <= left, (call.asked, call.done, left)
        else:  # the kernel took all it was offered: the line says what that was
            assert call.line.startswith(f"cli.send(view[{start}:")
            assert call.line == f"cli.send(view[{start}:{start + call.asked}])"
            assert call.done == call.asked < left
        if call.done:
            assert call.data is not None and call.data.len == call.done
            assert call.data.offset == 1000 + start
            left -= call.done
    assert left == 0
    assert len(sends) > 1, "12 MiB went in one send()"


def test_blocking_sendall_of_a_large_pattern_arrives_byte_exact(lab, reader) -> None:  # type: ignore[no-untyped-def]
    connect(lab, reader, blocking=True)
    lab.ok({"op": "send", "socket": "cli", "size": 77})
    result = lab.run({"op": "sendall", "socket": "cli", "size": SIZE}, timeout=30)
    assert result.ok, result.error
    call = lab.calls("cli", "sendall")[-1]
    assert call.asked == SIZE and call.done == SIZE
    assert call.data is not None and call.data.offset == 77 and call.data.len == SIZE
    assert call.data.head == repr(pattern(77, 48))
    lab.ok({"op": "close", "socket": "cli"})
    wait_until(lambda: len(reader.got) >= SIZE + 77, timeout=30, what="the reader to get all")
    assert reader.got == pattern(0, SIZE + 77)
