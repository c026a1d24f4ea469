"""Wireshark's own reader opens a lab's pcapng as is: tshark reads the handshake, the bytes
sent and the FIN, and each packet's comment naming its call."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine.conftest import LabDriver

from sockscope.engine.core.policy import LabPolicy
from sockscope.events import SegmentEvent
from sockscope.export.capture import capture_file

from helpers import wait_until


@pytest.fixture
def lab() -> Iterator[LabDriver]:
    driver = LabDriver(LabPolicy())
    yield driver
    driver.close()


def tshark() -> str:
    found = shutil.which("tshark")
    if not found:
        pytest.fail(
            "this test reads the export with tshark: apt-get install -y tshark (make test does it)"
        )
    return found


def test_tshark_reads_the_handshake_the_data_and_the_fin(lab: LabDriver, tmp_path: Path) -> None:
    port = lab.server()
    lab.ok({"op": "socket", "name": "cli"})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    lab.ok({"op": "accept", "socket": "srv"})
    lab.ok({"op": "send", "socket": "cli", "text": "hello, wire"})
    lab.ok({"op": "shutdown", "socket": "cli", "how": "SHUT_WR"})

    def fin() -> bool:
        return any(isinstance(e, SegmentEvent) and "FIN" in e.flags for e in lab.events("segment"))

    wait_until(fin, what="the FIN")
    path = tmp_path / "lab.pcapng"
    path.write_bytes(capture_file(lab.engine.capture_frames().result(5).frames, lab.events(), "t"))
    fields = [
        "tcp.srcport",
        "tcp.dstport",
        "tcp.flags.str",
        "tcp.seq",
        "tcp.len",
        "tcp.payload",
        "frame.comment",
    ]
    asked = [arg for name in fields for arg in ("-e", name)]
    done = subprocess.run(
        [tshark(), "-r", str(path), "-T", "fields", "-E", "separator=|", *asked],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split("|") for line in done.stdout.strip().splitlines()]
    flags = [row[2].replace("·", "") for row in rows]
    assert flags[:3] == ["S", "AS", "A"]  # tshark writes the set flags among dots
    data = [row for row in rows if row[4] not in ("", "0")]
    assert [(int(r[1]), int(r[3]), bytes.fromhex(r[5].replace(":", ""))) for r in data] == [
        (port, 1, b"hello, wire")
    ]
    assert any("F" in f and int(r[1]) == port for f, r in zip(flags, rows, strict=True))
    comments = done.stdout
    assert "the SYN of cli.connect(" in comments
    assert "bytes 0-10 of cli.send(b'hello, wire')" in comments
    assert "the FIN of cli.shutdown(socket.SHUT_WR)" in comments
