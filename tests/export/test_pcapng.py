"""The pcapng export, read back by an independent reader (dpkt), from a real capture."""

from __future__ import annotations

import io
from collections.abc import Iterator

import dpkt
import pytest
from engine.conftest import LabDriver

from sockscope.engine.capture import KeptFrame
from sockscope.engine.core.payload import pattern
from sockscope.engine.core.policy import LabPolicy
from sockscope.events import SegmentEvent
from sockscope.export import pcapng
from sockscope.export.capture import capture_file

from helpers import wait_until


@pytest.fixture
def lab() -> Iterator[LabDriver]:
    driver = LabDriver(LabPolicy())
    yield driver
    driver.close()


def read(data: bytes) -> list[tuple[float, bytes]]:
    return list(dpkt.pcapng.Reader(io.BytesIO(data)))


def test_an_empty_capture_is_a_valid_file() -> None:
    reader = dpkt.pcapng.Reader(io.BytesIO(pcapng.write([])))
    assert reader.datalink() == dpkt.pcap.DLT_EN10MB
    assert list(reader) == []


def test_timestamps_lengths_and_comments_survive() -> None:
    frame = bytes(14) + b"x" * 7  # seven bytes after an Ethernet header: length not 4-aligned
    data = pcapng.write([pcapng.Packet(1_700_000_000_123_456_789, 100, frame, "a comment")])
    reader = dpkt.pcapng.Reader(io.BytesIO(data))
    [(ts, buf)] = list(reader)
    assert buf == frame
    assert abs(float(ts) - 1_700_000_000.123456789) < 1e-6
    # the comment, as the format lays it out: option 1, its length, the text
    assert b"\x01\x00\x09\x00a comment" in data


def test_a_labs_capture_opens_with_its_handshake_data_and_fin(lab: LabDriver) -> None:
    port = lab.server()
    lab.ok({"op": "socket", "name": "cli"})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    lab.ok({"op": "accept", "socket": "srv"})
    lab.ok({"op": "send", "socket": "cli", "text": "hello, wire"})
    lab.ok({"op": "sendall", "socket": "cli", "size": 100_000})
    lab.ok({"op": "close", "socket": "cli"})

    def fin_seen() -> bool:
        return any(isinstance(e, SegmentEvent) and "FIN" in e.flags for e in lab.events("segment"))

    wait_until(fin_seen, what="the FIN")
    copy = lab.engine.capture_frames().result(5)
    assert all(isinstance(k, KeptFrame) for k in copy.frames)
    data = capture_file(copy.frames, lab.events(), lab.engine.id)
    packets = read(data)
    assert len(packets) == len(copy.frames) >= 6
    tcp = [dpkt.ethernet.Ethernet(buf).data.data for _, buf in packets]
    assert [t.flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK) for t in tcp[:3]] == [
        dpkt.tcp.TH_SYN,
        dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK,
        dpkt.tcp.TH_ACK,
    ]
    assert tcp[0].dport == port
    sent = b"".join(bytes(t.data) for t in tcp if t.dport == port)
    assert sent[:11] == b"hello, wire" and len(sent) == 11 + 100_000
    assert sent[11:] == pattern(11, 100_000)  # the bytes on the wire are the bytes sent
    assert any(t.flags & dpkt.tcp.TH_FIN and t.dport == port for t in tcp)
    # each packet says what caused it where the lab knows
    assert b"the SYN of cli.connect(" in data
    assert b"bytes 0-10 of cli.send(b'hello, wire')" in data
    assert b"the FIN of cli.close()" in data
