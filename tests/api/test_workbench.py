"""The framing and byte-order workbenches over HTTP."""

from __future__ import annotations

from live import LiveServer


def test_byte_order_shows_both_readings(live: LiveServer) -> None:
    body = live.client.get("/api/workbench/byteorder", params={"value": 1, "fmt": "!I"}).json()
    assert body["wire"] == "00 00 00 01"
    assert (body["right"], body["wrong"]) == (1, 16777216)
    assert body["network"]["htonl"] in (1, 16777216)  # depends on this machine's order
    assert body["text_vs_binary"]["text_bytes"] == 1 and body["text_vs_binary"]["binary_bytes"] == 4


def test_byte_order_refuses_what_does_not_fit(live: LiveServer) -> None:
    response = live.client.get("/api/workbench/byteorder", params={"value": 70000, "fmt": "!H"})
    assert response.status_code == 400 and "does not fit" in response.json()["error"]["message"]
    bad = live.client.get("/api/workbench/byteorder", params={"value": 1, "fmt": "!s"})
    assert bad.status_code == 400


def test_framing_naive_breaks_framed_recovers(live: LiveServer) -> None:
    body = live.client.post(
        "/api/workbench/framing",
        json={"strategy": "text_prefix", "messages": ["hello", "framed", "world"], "slice": 3},
    ).json()
    assert body["framed"] == ["hello", "framed", "world"] and body["framed_ok"] is True
    assert body["naive_ok"] is False and "split" in body["naive_verdict"]
    glued = live.client.post(
        "/api/workbench/framing", json={"strategy": "delimited", "messages": ["a", "b"], "slice": 0}
    ).json()
    assert glued["chunks"] == ["a\nb\n"] and "glued" in glued["naive_verdict"]


def test_framing_refuses_messages_that_break_the_rule(live: LiveServer) -> None:
    response = live.client.post(
        "/api/workbench/framing", json={"strategy": "fixed", "size": 3, "messages": ["toolong"]}
    )
    assert response.status_code == 400 and "at most 3 bytes" in response.json()["error"]["message"]
