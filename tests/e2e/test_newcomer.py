"""What a newcomer hit in the first ten minutes (issue 8, item 9), in a real browser.

A refused create leaves nothing behind; a lesson's answers stay hidden until asked;
choosing a lesson asks before it clears the lab; the socket picker, its errors and the
transfer totals follow the sockets; a server bound to 127.0.0.1 in a container says
who can reach it.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from sockscope.settings import Settings

from helpers import shot
from labpage import click_until, new_lab
from live import LiveServer, serve


def problems(page: Page) -> list[str]:
    """Console problems, but for the browser's own line about each refused command (a 4xx)."""
    refused = "Failed to load resource: the server responded with a status of 4"
    found: list[str] = page.console.problems  # type: ignore[attr-defined]
    return [p for p in found if refused not in p]


def picker_options(page: Page) -> list[str]:
    options: list[str] = page.get_by_test_id("socket-picker").locator("option").all_inner_texts()
    return options


def form(page: Page, heading: str) -> Locator:
    return page.locator("details", has=page.get_by_role("heading", name=heading))


def test_a_refused_bind_closes_the_half_made_socket(page: Page, server: LiveServer) -> None:
    lab = new_lab(page, server)
    port = form(page, "New server").get_by_label("Port")
    port.fill("1")  # outside the lab's port range
    page.get_by_test_id("create-server").click()
    expect(form(page, "New server").get_by_role("alert")).to_contain_text("port 1 is outside")
    expect(page.get_by_test_id("event-log")).to_contain_text("srv.close()")
    expect(page.get_by_test_id("map-srv")).to_have_count(0)
    assert picker_options(page) == []
    expect(page.get_by_test_id("server-error")).to_contain_text("bind(): port 1 is outside")
    expect(page.get_by_test_id("server-cleanup")).to_contain_text("srv.close()")
    expect(page.get_by_test_id("server-cleanup")).to_contain_text("the name srv is free again")
    shot(page, "newcomer-refused-bind")

    port.fill("0")
    page.get_by_test_id("create-server").click()  # the same name, at once
    expect(page.get_by_test_id("acceptq-srv")).to_have_text("0 of backlog 5")
    expect(page.get_by_test_id("server-error")).to_have_count(0)
    expect(page.get_by_test_id("server-cleanup")).to_have_count(0)

    # A port in use: EADDRINUSE from the kernel, and srv2 is closed again.
    snapshot = server.client.get(f"/api/labs/{lab}").json()
    used = next(s["local"][1] for s in snapshot["sockets"] if s["name"] == "srv")
    port.fill(str(used))
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("server-error")).to_contain_text("EADDRINUSE")
    expect(page.get_by_test_id("server-cleanup")).to_contain_text("srv2.close()")
    expect(page.get_by_test_id("map-srv2")).to_have_count(0)
    assert picker_options(page) == ["srv"]
    assert problems(page) == []


def test_a_form_previews_the_lines_the_lab_then_logs(page: Page, server: LiveServer) -> None:
    """The Python under a form is the server's rendering: the log then shows the same lines,
    and a value the lab would refuse is said before the button is pressed."""
    new_lab(page, server)
    shown = page.get_by_test_id("server-preview")
    expect(shown).to_contain_text("srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)")
    expect(shown).to_contain_text("srv.bind(('127.0.0.1', 0))  # port 0: the first free port")
    port = form(page, "New server").get_by_label("Port")
    port.fill("1")
    expect(page.get_by_test_id("server-preview-refused")).to_contain_text(
        "Refused before it runs: port 1 is outside the lab port range"
    )
    shot(page, "form-preview-refused")
    port.fill("0")
    expect(page.get_by_test_id("server-preview-refused")).to_have_count(0)
    lines = shown.inner_text().splitlines()
    page.get_by_test_id("create-server").click()
    log = page.get_by_test_id("event-log")
    for line in lines[:3]:  # the socket's own lines, word for word (bind then names its port)
        expect(log).to_contain_text(line)
    expect(page.get_by_test_id("client-preview")).to_contain_text("cli.connect(('127.0.0.1', ")
    assert problems(page) == []


@contextlib.contextmanager
def refusing_lab_port(server: LiveServer) -> Iterator[int]:
    """A lab port bound here but never listened on: a connect to it is refused, and no
    other test or lab can start listening there meanwhile."""
    low, high = server.client.get("/api/server").json()["lab_ports"]
    with socket.socket() as holder:
        for port in range(int(high), int(low) - 1, -1):
            try:
                holder.bind(("127.0.0.1", port))
            except OSError:
                continue
            yield port
            return
    raise AssertionError(f"no free port in the lab range {low}-{high}")


def test_a_refused_connect_leaves_no_new_socket(page: Page, server: LiveServer) -> None:
    new_lab(page, server)
    with refusing_lab_port(server) as port:
        refused_connect_leaves_nothing(page, port)


def refused_connect_leaves_nothing(page: Page, port: int) -> None:
    client = form(page, "New client")
    client.get_by_label("Port").fill(str(port))
    client.get_by_label("blocking").check()
    page.get_by_test_id("create-client").click()
    expect(client.get_by_role("alert")).to_contain_text("ECONNREFUSED")
    expect(page.get_by_test_id("event-log")).to_contain_text("cli.close()")
    expect(page.get_by_test_id("map-cli")).to_have_count(0)
    assert picker_options(page) == []
    expect(page.get_by_test_id("client-cleanup")).to_contain_text("cli.close()")

    # Non-blocking: connect() answers EINPROGRESS, the refusal comes later. The client
    # stays, failed, with the reason next to the form and a close() button.
    client.get_by_label("blocking").uncheck()
    page.get_by_test_id("create-client").click()
    late = page.get_by_test_id("client-late-error")
    expect(late).to_contain_text("cli.connect() failed after all: ECONNREFUSED")
    expect(page.get_by_test_id("map-cli")).to_have_count(1)  # the same name: it was free
    shot(page, "newcomer-refused-connect")
    late.get_by_test_id("close-failed").click()
    expect(page.get_by_test_id("map-cli")).to_have_count(0)
    expect(late).to_have_count(0)
    assert problems(page) == []


def connected_pair(page: Page, server: LiveServer) -> None:
    new_lab(page, server)
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("acceptq-srv")).to_have_text("0 of backlog 5")
    page.get_by_test_id("create-client").click()
    expect(page.get_by_test_id("state-conn")).to_have_text("ESTABLISHED")
    expect(page.get_by_test_id("socket-picker")).to_have_value("cli")


def test_an_error_stays_with_its_socket(page: Page, server: LiveServer) -> None:
    connected_pair(page, server)
    picker = page.get_by_test_id("socket-picker")
    click_until(page, "send", "send-error", "EAGAIN")
    picker.select_option("conn")  # conn's send box has no error of its own
    expect(page.get_by_test_id("send-error")).to_have_count(0)
    expect(page.get_by_test_id("send-result")).to_have_count(0)
    picker.select_option("cli")
    expect(page.get_by_test_id("send-error")).to_contain_text("EAGAIN")
    # A new socket under the old name starts with no error of the old one's.
    page.get_by_test_id("close").click()
    expect(page.get_by_test_id("map-cli")).to_have_count(0)
    page.get_by_test_id("create-client").click()
    expect(page.get_by_test_id("state-cli")).to_have_text("ESTABLISHED")
    picker.select_option("cli")
    expect(page.get_by_test_id("send-error")).to_have_count(0)
    assert problems(page) == []


def test_after_close_the_picker_takes_the_peer_and_totals_stay(
    page: Page, server: LiveServer
) -> None:
    connected_pair(page, server)
    picker = page.get_by_test_id("socket-picker")
    page.get_by_test_id("send").click()
    summary = page.get_by_test_id("transfer-summary")
    expect(summary).to_contain_text(re.compile(r"cli: sent [1-9]"))
    found = re.search(r"cli: sent ([^,]+),", summary.inner_text())
    assert found is not None
    sent = found.group(1)
    page.get_by_test_id("close").click()
    expect(page.get_by_test_id("map-cli")).to_have_count(0)
    expect(picker).to_have_value("conn")  # the closed socket's peer, never a blank picker
    expect(page.get_by_test_id("send")).to_be_visible()
    totals = page.get_by_test_id("totals-cli")
    expect(totals).to_have_text(f"cli (closed): sent {sent}, received 0 B")
    shot(page, "newcomer-after-close")
    assert problems(page) == []


def test_choosing_a_lesson_asks_before_it_clears_the_lab(page: Page, server: LiveServer) -> None:
    new_lab(page, server)
    page.get_by_test_id("create-server").click()
    expect(page.get_by_test_id("acceptq-srv")).to_have_text("0 of backlog 5")
    page.get_by_test_id("lesson-picker").select_option("partial-send")
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("This closes every socket in this lab")
    expect(page.get_by_test_id("confirm-sockets")).to_contain_text("srv")
    expect(page.get_by_test_id("confirm-cancel")).to_be_focused()
    shot(page, "newcomer-lesson-confirm")
    page.keyboard.press("Enter")  # Enter on the focused Cancel: nothing happens
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("lesson")).to_have_count(0)
    expect(page.get_by_test_id("acceptq-srv")).to_have_text("0 of backlog 5")
    assert "lesson=" not in page.url

    page.get_by_test_id("lesson-picker").select_option("partial-send")
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("lesson")).to_contain_text(
        "send() and recv(): how many bytes per call?"
    )
    expect(page.get_by_test_id("map-srv")).to_have_count(0)
    assert problems(page) == []


def test_a_lesson_by_its_address_asks_before_it_clears_a_busy_lab(
    page: Page, server: LiveServer
) -> None:
    lab = server.new_lab()
    server.ok(lab, {"op": "socket", "name": "mine"})
    page.goto(f"{server.url}/labs/{lab}?lesson=partial-send")
    expect(page.get_by_test_id("confirm-sockets")).to_contain_text("mine")
    expect(page.get_by_test_id("confirm-cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("confirm-dialog")).to_have_count(0)
    expect(page.get_by_test_id("lesson")).to_have_count(0)
    expect(page.get_by_test_id("map-mine")).to_have_count(1)
    assert server.client.get(f"/api/labs/{lab}/lesson").json() is None

    page.reload()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("map-mine")).to_have_count(0)
    expect(page.get_by_test_id("lesson-progress")).to_have_text("step 1 of 16")
    assert server.client.get(f"/api/labs/{lab}/lesson").json()["lesson"] == "partial-send"
    assert problems(page) == []


def step_to_prediction(page: Page) -> None:
    for _ in range(15):
        if page.get_by_test_id("prediction").count():
            return
        before = page.get_by_test_id("lesson-progress").inner_text()
        page.get_by_test_id("lesson-next").click()
        expect(page.get_by_test_id("lesson-progress")).not_to_have_text(before)
    raise AssertionError("no prediction within 15 steps")


def test_run_to_end_stops_at_an_unanswered_question(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/")
    page.get_by_test_id("start-partial-send").click()
    step_to_prediction(page)
    expect(page.get_by_test_id("prediction")).to_contain_text("cli.send(pattern(1048576))")
    page.get_by_test_id("lesson-run").click()  # not answered: it does not run, it says why
    done = page.get_by_test_id("lesson-progress").filter(has_text="done")
    expect(page.get_by_test_id("lesson-stopped").or_(done)).to_be_visible()
    expect(page.get_by_test_id("lesson-progress")).to_have_text("step 8 of 16")
    expect(page.get_by_test_id("lesson-stopped")).to_be_visible()
    page.get_by_test_id("prediction").get_by_label("1048576: all of it").check()
    page.get_by_test_id("lesson-run").click()
    # It runs step 8 and 9, then stops before step 10's question, unrevealed.
    expect(page.get_by_test_id("lesson-progress")).to_have_text("step 10 of 16")
    expect(page.get_by_test_id("prediction")).to_contain_text("conn.recv(65536)")
    expect(page.get_by_test_id("lesson-stopped")).to_be_visible()
    expect(page.get_by_test_id("lesson-reveal")).not_to_contain_text("conn.recv(65536)")
    shot(page, "newcomer-run-stops")
    page.get_by_test_id("prediction").get_by_label("65536", exact=True).check()
    page.get_by_test_id("lesson-run").click()
    # and stops again before the last question, the blocking send()'s
    expect(page.get_by_test_id("lesson-progress")).to_have_text("step 16 of 16", timeout=30_000)
    expect(page.get_by_test_id("lesson-stopped")).to_be_visible()
    page.get_by_test_id("prediction").get_by_label("A few thousand, like before").check()
    page.get_by_test_id("lesson-run").click()
    expect(page.get_by_test_id("lesson-progress")).to_have_text("done", timeout=30_000)
    assert problems(page) == []


@pytest.fixture(scope="module")
def container_server() -> Iterator[LiveServer]:
    yield from serve(Settings(in_container=True, lab_ports_published=True))


@pytest.fixture(scope="module")
def unpublished_server() -> Iterator[LiveServer]:
    yield from serve(Settings(in_container=True, lab_ports_published=False))


def test_a_loopback_server_in_a_container_says_who_can_reach_it(
    page: Page, container_server: LiveServer
) -> None:
    new_lab(page, container_server)
    note = page.get_by_test_id("container-note")
    expect(note).to_contain_text("only by the lab's own sockets")
    expect(note).to_contain_text("choose 0.0.0.0")
    shot(page, "newcomer-container-note")
    form(page, "New server").get_by_label("Address").select_option("0.0.0.0")
    expect(note).to_have_count(0)
    assert problems(page) == []


def test_a_container_whose_lab_ports_are_not_published_says_so_for_any_address(
    page: Page, unpublished_server: LiveServer
) -> None:
    new_lab(page, unpublished_server)
    note = page.get_by_test_id("container-note")
    expect(note).to_contain_text("lab ports are not published")
    expect(note).to_contain_text("compose.lab-ports.yml")
    form(page, "New server").get_by_label("Address").select_option("0.0.0.0")
    expect(note).to_contain_text("whatever its address")
    assert problems(page) == []


def test_no_note_when_the_server_does_not_say(page: Page, server: LiveServer) -> None:
    def missing(route: Route) -> None:
        route.fulfill(status=404, json={"error": {"message": "no such route"}})

    page.route("**/api/server", missing)
    with page.expect_response("**/api/server"):  # the note could only come after the answer
        new_lab(page, server)
    expect(page.get_by_test_id("create-server")).to_be_visible()
    expect(page.get_by_test_id("container-note")).to_have_count(0)
    page.route("**/api/server", lambda route: route.abort())
    page.reload()
    expect(page.get_by_test_id("link-status")).to_have_text("live")
    expect(page.get_by_test_id("container-note")).to_have_count(0)
