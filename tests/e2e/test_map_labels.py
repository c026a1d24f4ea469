"""The sockets map explains itself to a newcomer: each label says what it means."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from helpers import shot, wait_until
from labpage import flooded_lab, new_lab
from live import LiveServer


def iteration(page: Page) -> int:
    found = re.search(r"iteration\D*(\d+)", page.get_by_test_id("loop-state").inner_text())
    assert found, page.get_by_test_id("loop-state").inner_text()
    return int(found.group(1))


def test_the_iteration_count_moves_while_the_loop_waits(page: Page, server: LiveServer) -> None:
    new_lab(page, server)
    page.get_by_test_id("create-server").click()  # auto-accept: the loop selects on srv
    expect(page.get_by_test_id("acceptq-srv")).to_have_text("0 of backlog 5")
    first = wait_until(lambda: iteration(page), what="a first select()")
    # Quiet selects (0.25 s timeouts, nothing ready) are not sent one by one.
    wait_until(lambda: iteration(page) >= first + 4, timeout=5.0, what="the count to move")
    page.keyboard.press("p")
    expect(page.get_by_test_id("loop-state")).to_contain_text("paused")
    held = iteration(page)
    page.keyboard.press("s")  # one step: the count says one more, exactly
    wait_until(lambda: iteration(page) > held, what="the step's select()")
    stepped = iteration(page)
    page.wait_for_timeout(600)  # paused: nothing may move (a bounded look, not a wait)
    assert iteration(page) == stepped
    assert page.console.problems == []  # type: ignore[attr-defined]


def test_a_fresh_socket_and_an_outside_peer_say_what_they_are(
    page: Page, server: LiveServer
) -> None:
    lab = new_lab(page, server)
    server.ok(lab, {"op": "socket", "name": "fresh"})
    badge = page.get_by_test_id("state-fresh")
    expect(badge).to_have_text("new (not connected)")
    expect(page.get_by_test_id("map-fresh")).not_to_contain_text("CLOSE")

    # A server in another lab: a peer, but not a socket of this lab.
    other = server.client.post("/api/labs").json()["id"]
    server.ok(other, {"op": "socket", "name": "far", "options": {"auto_accept": True}})
    server.ok(other, {"op": "bind", "socket": "far", "address": ["127.0.0.1", 0]})
    server.ok(other, {"op": "listen", "socket": "far", "backlog": 5})
    snapshot = server.client.get(f"/api/labs/{other}").json()
    port = next(s["local"][1] for s in snapshot["sockets"] if s["name"] == "far")
    server.ok(lab, {"op": "socket", "name": "out"})
    server.command(lab, {"op": "connect", "socket": "out", "address": ["127.0.0.1", port]})
    expect(page.get_by_test_id("state-out")).to_have_text("ESTABLISHED")
    expect(page.get_by_test_id("outside-out")).to_have_text(
        f"peer outside this lab: 127.0.0.1:{port}"
    )
    server.client.delete(f"/api/labs/{other}")

    # A server here that does not accept: its client's peer is waiting in the accept queue.
    server.ok(lab, {"op": "socket", "name": "slow", "options": {"auto_accept": False}})
    server.ok(lab, {"op": "bind", "socket": "slow", "address": ["127.0.0.1", 0]})
    server.ok(lab, {"op": "listen", "socket": "slow", "backlog": 5})
    snapshot = server.client.get(f"/api/labs/{lab}").json()
    port = next(s["local"][1] for s in snapshot["sockets"] if s["name"] == "slow")
    server.ok(lab, {"op": "socket", "name": "early"})
    server.command(lab, {"op": "connect", "socket": "early", "address": ["127.0.0.1", port]})
    expect(page.get_by_test_id("acceptq-slow")).to_have_text("1 of backlog 5")
    expect(page.get_by_test_id("outside-early")).to_have_text(
        "in slow's accept queue: not accepted yet"
    )
    shot(page, "lab-outside-peer")
    assert page.console.problems == []  # type: ignore[attr-defined]


def test_the_flood_shows_the_zero_window_and_the_unsent_bytes(
    page: Page, server: LiveServer
) -> None:
    flooded_lab(page, server)
    window = page.get_by_test_id("window-cli")
    expect(window).to_contain_text("peer's window is 0", timeout=5000)
    expect(window.locator("title")).to_contain_text("receive buffer is full")
    queue = page.get_by_test_id("outq-cli")
    expect(queue).to_contain_text(re.compile(r"[1-9][\d.]* (B|KiB|MiB) not sent yet"))
    expect(queue).to_contain_text(re.compile(r"[\d.]+ (B|KiB|MiB) sent, not acknowledged"))
    shot(page, "lab-zero-window")
    # The reader drains: the window opens again and the label goes.
    page.get_by_test_id("socket-picker").select_option("conn")
    page.get_by_test_id("auto-recv").select_option("discard")
    expect(window).to_have_count(0, timeout=10_000)
    assert page.console.problems == []  # type: ignore[attr-defined]


def test_retransmissions_say_what_was_sent_again_and_why(page: Page, server: LiveServer) -> None:
    new_lab(page, server)
    page.get_by_test_id("server-network").select_option("private")
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("acceptq-srv")).to_have_text("0 of backlog 5")
    page.get_by_test_id("create-client").click()
    expect(page.get_by_test_id("state-cli")).to_have_text("ESTABLISHED")
    page.get_by_test_id("socket-picker").select_option("cli")
    page.get_by_test_id("cable-cut").click()
    expect(page.get_by_test_id("cable-state")).to_have_text("cable OUT")
    page.get_by_test_id("send-size").fill("1000")
    page.get_by_test_id("send").click()
    retrans = page.get_by_test_id("retrans-cli")
    expect(retrans).to_contain_text(
        re.compile(r"\d+ segments? sent again \(no ACK came\)"), timeout=5000
    )
    expect(retrans).to_contain_text("retransmitted")
    shot(page, "lab-retransmitted")
    expect(retrans.locator("title")).to_contain_text("acknowledg")
    page.get_by_test_id("cable-plug").click()
    expect(page.get_by_test_id("cable-state")).to_have_text("cable in")
    assert page.console.problems == []  # type: ignore[attr-defined]


def test_a_refused_client_shows_no_send_queue(page: Page, server: LiveServer) -> None:
    """A connect() that failed has nothing to send: SIOCOUTQ's count of its SYN is not
    shown as bytes waiting."""
    lab = new_lab(page, server)
    server.ok(lab, {"op": "socket", "name": "gone"})
    port = server.ok(lab, {"op": "bind", "socket": "gone", "address": ["127.0.0.1", 0]})
    server.ok(lab, {"op": "socket", "name": "cli"})
    target = ["127.0.0.1", port["result"]["address"][1]]  # bound, never listening: refused
    refused = server.command(lab, {"op": "connect", "socket": "cli", "address": target}).json()
    assert refused["error"]["errno"] == "ECONNREFUSED", refused
    expect(page.get_by_test_id("state-cli")).to_have_text("connect failed")
    page.wait_for_timeout(600)  # a probe or two
    expect(page.get_by_test_id("outq-cli")).to_have_count(0)
