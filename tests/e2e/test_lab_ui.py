"""A participant's first experiment, in a real browser: 1 MiB through a 4 KiB receive buffer."""

from __future__ import annotations

import re

from playwright.sync_api import Page, WebSocketRoute, expect

from helpers import shot
from labpage import click_until, new_lab
from live import LiveServer


def test_flood_partial_sends_queues_close_wait_and_reload(page: Page, server: LiveServer) -> None:
    lab = new_lab(page, server)
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("acceptq-srv")).to_have_text("0 of backlog 5")
    page.get_by_test_id("create-client").click()
    expect(page.get_by_test_id("state-cli")).to_have_text("ESTABLISHED")
    expect(page.get_by_test_id("state-conn")).to_have_text("ESTABLISHED")  # auto-accepted

    expect(page.get_by_test_id("socket-picker")).to_have_value("cli")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("send-result")).to_contain_text("→")
    first = page.get_by_test_id("send-result").inner_text()
    returned = int(first.rsplit("→", 1)[1].strip())
    assert 0 < returned < 1048576, first
    click_until(page, "send", "send-error", "EAGAIN")

    summary = page.get_by_test_id("transfer-summary")
    expect(summary).to_contain_text(re.compile(r"[1-9]\d* partial send"))
    expect(summary).to_contain_text(re.compile(r"[1-9]\d* EAGAIN"))
    expect(page.get_by_test_id("event-log")).to_contain_text("EAGAIN")
    expect(page.get_by_test_id("sendq-cli")).not_to_have_text(re.compile(r"^0 B /"))
    expect(page.get_by_test_id("recvq-conn")).not_to_have_text(re.compile(r"^0 B /"))
    shot(page, "lab-flood")
    pick_the_newest_mark(page)

    page.get_by_test_id("close").click()
    expect(page.get_by_test_id("map-cli")).to_have_count(0)
    page.get_by_test_id("socket-picker").select_option("conn")
    click_until(page, "recv", "recv-result", "b'' (peer closed)")
    expect(page.get_by_test_id("state-conn")).to_have_text("CLOSE_WAIT")
    shot(page, "lab-close-wait")

    page.reload()
    expect(page.get_by_test_id("link-status")).to_have_text("live")
    assert page.url.endswith(lab)
    expect(page.get_by_test_id("state-conn")).to_have_text("CLOSE_WAIT")
    expect(page.get_by_test_id("map-srv")).to_be_visible()
    expect(page.get_by_test_id("event-log")).to_contain_text("b'' (peer closed)")
    assert page.console.problems == []  # type: ignore[attr-defined]


def pick_the_newest_mark(page: Page) -> None:
    """The transfers timeline is a canvas: the pointer finds a mark, names its call, and a
    click selects that call in the log."""
    timeline = page.get_by_test_id("transfers-timeline")
    timeline.scroll_into_view_if_needed()
    box = timeline.bounding_box()
    assert box is not None and box["width"] > 0
    scale = box["width"] / 760  # the timeline's own width (lib/marks.ts)
    y = box["y"] + (4 + 56 / 2) * scale  # the first row: cli, the sender
    tip = page.get_by_role("tooltip")
    x = box["x"] + box["width"] - 4
    while x > box["x"] + 120 * scale and tip.count() == 0:  # bounded: the row's width
        page.mouse.move(x, y)
        x -= 2
    expect(tip).to_contain_text("cli.send")
    line = tip.inner_text().split(" → ")[0]
    page.mouse.click(x + 2, y)
    expect(page.locator('[data-testid="event-log"] li.selected')).to_contain_text(line)
    shot(page, "lab-flood-picked")


def test_pause_and_step_the_select_loop(page: Page, server: LiveServer) -> None:
    new_lab(page, server)
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("acceptq-srv")).to_be_visible()
    page.get_by_test_id("create-client").click()
    expect(page.get_by_test_id("state-conn")).to_have_text("ESTABLISHED")
    page.get_by_role("tab", name="select() loop").click()
    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("loop-state")).to_contain_text("paused")
    page.get_by_test_id("sendall").click()
    rows = page.get_by_test_id("select-table").locator("tbody tr")
    before = rows.count()
    page.keyboard.press("s")
    expect(rows).to_have_count(before + 1)
    expect(rows.first).to_contain_text("[cli]")
    page.get_by_test_id("step").click()
    expect(rows).to_have_count(before + 2)
    shot(page, "lab-step")
    assert page.console.problems == []  # type: ignore[attr-defined]


def test_a_lab_that_is_gone_says_so(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/labs/not-a-lab-id")
    expect(page.get_by_role("heading", name="This lab no longer exists")).to_be_visible()
    page.get_by_role("button", name="Start a new lab").click()
    page.wait_for_url(re.compile(r"/labs/[A-Za-z0-9_-]{20,}$"))


def test_a_dropped_connection_says_so_and_resumes_with_nothing_lost(
    page: Page, server: LiveServer
) -> None:
    routes: list[WebSocketRoute] = []

    def relay(ws: WebSocketRoute) -> None:
        routes.append(ws)
        ws.connect_to_server()

    page.route_web_socket(re.compile(r"/api/labs/.*/ws"), relay)
    lab = new_lab(page, server)
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("acceptq-srv")).to_be_visible()
    routes[-1].close(code=1001, reason="network blip")
    expect(page.get_by_test_id("link-status")).to_contain_text("reconnecting")
    # While the page is away, the lab goes on.
    for name in ("away1", "away2"):
        server.ok(lab, {"op": "socket", "name": name})
    expect(page.get_by_test_id("link-status")).to_have_text("live", timeout=15_000)
    assert len(routes) >= 2
    assert "after=" in routes[-1].url and not routes[-1].url.endswith("after=0")
    expect(page.get_by_test_id("event-log")).to_contain_text("away2 = socket.socket")
    expect(page.get_by_test_id("event-log")).to_contain_text("away1 = socket.socket")
    expect(page.get_by_test_id("event-log")).to_contain_text("srv.listen(5)")
    assert page.console.problems == []  # type: ignore[attr-defined]


def test_a_link_sits_between_client_and_server_with_its_faults(
    page: Page, server: LiveServer
) -> None:
    new_lab(page, server)
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("acceptq-srv")).to_be_visible()
    page.locator("summary:has-text('Fault-injecting link')").click()
    page.get_by_test_id("create-link").click()
    expect(page.get_by_test_id("client-target")).to_have_value("lnk")
    page.get_by_test_id("create-client").click()
    link = page.get_by_test_id("link-lnk")
    expect(link).to_contain_text("up: clean")
    expect(page.get_by_test_id("state-conn")).to_have_text("ESTABLISHED")
    page.get_by_test_id("stall").click()
    expect(link).to_contain_text("up: STALLED")
    page.get_by_test_id("socket-picker").select_option("cli")
    page.get_by_test_id("send-size").fill("20000")
    page.get_by_test_id("sendall").click()
    # The link stops reading: the bytes wait in its first leg's kernel queue.
    expect(page.get_by_test_id("recvq-lnk_a")).not_to_have_text(re.compile(r"^0 B /"))
    expect(page.get_by_test_id("recvq-conn")).to_have_text(re.compile(r"^0 B /"))
    page.get_by_test_id("reset-link").click()
    expect(page.get_by_test_id("event-log")).to_contain_text("both ends get a RST")
    expect(link).to_have_count(0)  # its legs are gone
    expect(page.get_by_test_id("state-cli")).to_have_text("CLOSE")  # the client got the RST
    shot(page, "lab-link-reset")
    assert page.console.problems == []  # type: ignore[attr-defined]


def test_pull_the_private_networks_cable_and_watch_tcp_give_up(
    page: Page, server: LiveServer
) -> None:
    new_lab(page, server)
    page.get_by_test_id("server-network").select_option("private")
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("acceptq-srv")).to_have_text("0 of backlog 5")  # listening
    expect(page.get_by_test_id("map-srv")).to_contain_text("private net")
    expect(page.get_by_test_id("cable-state")).to_have_text("cable in")
    page.get_by_test_id("create-client").click()  # follows its server into the private network
    expect(page.get_by_test_id("state-cli")).to_have_text("ESTABLISHED")
    expect(page.get_by_test_id("map-cli")).to_contain_text("private net")
    expect(page.get_by_test_id("state-conn")).to_have_text("ESTABLISHED")

    page.get_by_test_id("socket-picker").select_option("cli")
    page.get_by_test_id("sockopt-name").select_option("TCP_USER_TIMEOUT")
    page.get_by_test_id("sockopt-value").fill("2500")
    page.get_by_test_id("setsockopt").click()
    expect(page.get_by_test_id("option-result")).to_have_text(
        "cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 2500)  →  None"
    )

    page.get_by_test_id("cable-cut").click()
    expect(page.get_by_test_id("cable-state")).to_have_text("cable OUT")
    expect(page.get_by_test_id("cable-cut-mark")).to_be_visible()
    page.get_by_test_id("send-size").fill("1000")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("send-result")).to_contain_text("→  1000")
    expect(page.get_by_test_id("retrans-cli")).to_contain_text("retransmitted", timeout=5000)
    shot(page, "lab-private-network-cut")
    click_until(page, "recv", "recv-error", "ETIMEDOUT")
    expect(page.get_by_test_id("state-cli")).to_have_text("CLOSE")
    expect(page.get_by_test_id("state-conn")).to_have_text("ESTABLISHED")  # heard nothing

    page.get_by_test_id("cable-plug").click()
    expect(page.get_by_test_id("cable-state")).to_have_text("cable in")
    expect(page.get_by_test_id("event-log")).to_contain_text("cable pulled out")
    assert page.console.problems == []  # type: ignore[attr-defined]


def test_udp_and_ipv6_from_the_forms(page: Page, server: LiveServer) -> None:
    """A UDP server and client made from the forms: sendto() a datagram, recvfrom() it;
    then an IPv6 server on '::' that an IPv4 client reaches, paired on the map."""
    new_lab(page, server)
    page.get_by_test_id("server-kind").select_option("udp")
    expect(page.get_by_test_id("server-udp-note")).to_contain_text("no listen()")
    expect(page.get_by_test_id("server-preview")).to_contain_text("socket.SOCK_DGRAM")
    expect(page.get_by_test_id("server-preview")).not_to_contain_text("listen")
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("state-srv")).to_have_text("UDP · bound")
    page.get_by_test_id("client-kind").select_option("udp")
    page.get_by_test_id("create-client").click()
    expect(page.get_by_test_id("state-cli")).to_have_text("UDP · new")
    expect(page.get_by_test_id("socket-picker")).to_have_value("cli")
    page.get_by_label("payload kind").select_option("text")
    expect(page.get_by_test_id("sendto-preview")).to_contain_text(
        "cli.sendto(b'hello\\n', ('127.0.0.1', "
    )
    page.get_by_test_id("sendto").click()
    expect(page.get_by_test_id("send-result")).to_contain_text("6")
    expect(page.get_by_test_id("state-cli")).to_have_text("UDP · bound")  # the kernel bound it
    page.get_by_test_id("socket-picker").select_option("srv")
    page.get_by_test_id("recvfrom").click()
    expect(page.get_by_test_id("recv-result")).to_contain_text("6")
    expect(page.get_by_test_id("event-log")).to_contain_text("data, address = srv.recvfrom(4096)")
    expect(page.get_by_test_id("event-log")).to_contain_text("(b'hello\\n', ('127.0.0.1', ")

    page.get_by_test_id("server-kind").select_option("tcp")
    page.get_by_test_id("server-host").select_option("::")
    expect(page.get_by_test_id("server-preview")).to_contain_text("socket.AF_INET6")
    page.get_by_test_id("create-server").click()  # srv2, auto-accept
    page.get_by_test_id("client-kind").select_option("tcp")
    page.get_by_test_id("client-target").select_option("srv2")
    expect(page.get_by_test_id("client-preview")).to_contain_text("socket.AF_INET6")  # to ::1
    page.get_by_test_id("create-client").click()  # cli2 -> ::1
    expect(page.get_by_test_id("state-cli2")).to_have_text("ESTABLISHED")
    expect(page.get_by_test_id("state-conn")).to_have_text("ESTABLISHED")
    shot(page, "udp-and-ipv6")
    assert page.console.problems == []  # type: ignore[attr-defined]
