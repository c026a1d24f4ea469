"""GET /api/labs/{id}/capture.pcapng: the wire lane as a file an independent reader opens
(dpkt here; tshark in tests/export), in the web process and through a lab host."""

from __future__ import annotations

import io

import dpkt

from helpers import wait_until
from live import LiveServer


def connected(live: LiveServer) -> tuple[str, int]:
    lab = live.new_lab()
    live.ok(lab, {"op": "socket", "name": "srv"})
    address = live.ok(lab, {"op": "bind", "socket": "srv", "address": ["127.0.0.1", 0]})
    port: int = address["result"]["address"][1]
    live.ok(lab, {"op": "listen", "socket": "srv", "backlog": 5})
    live.ok(lab, {"op": "socket", "name": "cli"})
    live.ok(lab, {"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    live.ok(lab, {"op": "accept", "socket": "srv"})
    return lab, port


def segments(live: LiveServer, lab: str) -> list[dict[str, object]]:
    events = live.client.get(f"/api/labs/{lab}/events", params={"limit": 5000}).json()["events"]
    return [e for e in events if e["kind"] == "segment"]


def test_the_capture_downloads_as_pcapng_with_the_calls_named(live: LiveServer) -> None:
    lab, port = connected(live)
    live.ok(lab, {"op": "send", "socket": "cli", "text": "through the wire"})
    live.ok(lab, {"op": "abort", "socket": "cli"})
    wait_until(lambda: any("RST" in str(s["flags"]) for s in segments(live, lab)), what="RST")
    response = live.client.get(f"/api/labs/{lab}/capture.pcapng")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-pcapng"
    assert ".pcapng" in response.headers["content-disposition"]
    packets = list(dpkt.pcapng.Reader(io.BytesIO(response.content)))
    tcp = [dpkt.ethernet.Ethernet(buf).data.data for _, buf in packets]
    assert tcp[0].flags == dpkt.tcp.TH_SYN and tcp[0].dport == port
    assert b"".join(bytes(t.data) for t in tcp if t.dport == port) == b"through the wire"
    assert tcp[-1].flags & dpkt.tcp.TH_RST
    assert b"the RST of cli.close()" in response.content
    snapshot = live.client.get(f"/api/labs/{lab}").json()
    assert snapshot["capture"]["state"] == "on"
    assert snapshot["capture"]["frames"] >= len(packets)


def test_a_lab_with_no_connection_downloads_an_empty_capture(live: LiveServer) -> None:
    lab = live.new_lab()
    response = live.client.get(f"/api/labs/{lab}/capture.pcapng")
    assert response.status_code == 200
    assert list(dpkt.pcapng.Reader(io.BytesIO(response.content))) == []


def test_two_labs_never_see_each_others_segments(live: LiveServer) -> None:
    one, port_one = connected(live)
    two, port_two = connected(live)
    live.ok(one, {"op": "send", "socket": "cli", "text": "one"})
    live.ok(two, {"op": "send", "socket": "cli", "text": "two"})
    for lab, mine, other in ((one, port_one, port_two), (two, port_two, port_one)):
        found = wait_until(
            lambda lab=lab: [s for s in segments(live, lab) if s["length"]], what="data"
        )
        ports = {s["src"][1] for s in segments(live, lab)} | {s["dst"][1] for s in found}  # type: ignore[index]
        assert mine in ports and other not in ports
