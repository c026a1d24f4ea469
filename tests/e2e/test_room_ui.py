"""The room in browsers: an instructor and three participants, each in a context of its own
(so each has its own cookies, as separate machines would), on one real server.

One walk through a workshop, in order: join by code, push a lesson, answer (one wrong),
reveal (the counts reach the participants and the projector), freeze (a participant's
command is refused with the reason), mirror a lab on the projector, and an observer link
that shows the lab but drives nothing. The projector is a context of its own too (the
classroom's PC): what it shows comes from the server, never from the instructor's browser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from sockscope.settings import Settings

from helpers import shot
from live import LiveServer, serve

TOKEN = "instructor-token-for-browser-tests-0123"
LESSON = "server-sockets"
QUESTION = 5  # the lesson's accept() step: "what does accept() give back?"
RIGHT, WRONG = 1, 0
NAMES = ("Ada", "Grace", "Linus")
SCREENS = {"1280x720": {"width": 1280, "height": 720}, "1024x768": {"width": 1024, "height": 768}}


@pytest.fixture(scope="module")
def room_server() -> Iterator[LiveServer]:
    settings = Settings(
        in_container=False, instructor_token=TOKEN, participants_per_client=20, joins_per_minute=100
    )
    yield from serve(settings)


def context_of(browser: Browser, screen: str = "1280x720") -> BrowserContext:
    context = browser.new_context(viewport=SCREENS[screen])  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    return context


def open_page(context: BrowserContext) -> Page:
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.problems = problems  # type: ignore[attr-defined]
    return page


def no_page_errors(*pages: Page) -> None:
    for page in pages:
        assert page.problems == [], page.problems  # type: ignore[attr-defined]


def as_instructor(browser: Browser, server: LiveServer, screen: str = "1280x720") -> Page:
    page = open_page(context_of(browser, screen))
    page.goto(f"{server.url}/instructor?token={TOKEN}")
    expect(page).to_have_url(f"{server.url}/instructor")  # the token left the address bar
    expect(page.get_by_test_id("instructor-code")).to_have_text(re.compile(r"^[A-Z2-9]{6}$"))
    return page


def join(browser: Browser, server: LiveServer, code: str, name: str) -> Page:
    page = open_page(context_of(browser))
    page.goto(f"{server.url}/join/{code}")
    expect(page.get_by_test_id("join-code")).to_have_value(code)  # prefilled from the URL
    page.get_by_test_id("join-name").fill(name)
    page.get_by_test_id("join-submit").click()
    expect(page).to_have_url(re.compile(r"/labs/[A-Za-z0-9_-]+$"))
    expect(page.get_by_test_id("room-name")).to_have_text(name)
    return page


def walk_to_question(page: Page) -> None:
    """Run the pushed lesson's steps up to its question."""
    for _ in range(QUESTION + 2):
        if page.get_by_test_id("prediction").is_visible():
            return
        progress = page.get_by_test_id("lesson-progress").inner_text()
        page.get_by_test_id("lesson-next").click()
        expect(page.get_by_test_id("lesson-progress")).not_to_have_text(progress)
    expect(page.get_by_test_id("prediction")).to_be_visible()


def test_a_workshop_in_browsers(browser: Browser, room_server: LiveServer) -> None:
    server = room_server
    instructor = as_instructor(browser, server)
    code = instructor.get_by_test_id("instructor-code").inner_text()

    # A wrong code is refused in words, and the form stays.
    stranger = open_page(context_of(browser))
    stranger.goto(f"{server.url}/join")
    stranger.get_by_test_id("join-code").fill("ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY")
    stranger.get_by_test_id("join-submit").click()
    expect(stranger.get_by_test_id("join-error")).to_contain_text("not this room's code")

    people = [join(browser, server, code, name) for name in NAMES]
    rows = instructor.get_by_test_id("roster-row")
    expect(rows).to_have_count(3)
    # A reload, or the join page again, returns to the same lab.
    ada_lab = people[0].url
    people[0].goto(f"{server.url}/join")
    expect(people[0]).to_have_url(ada_lab)

    # Push the lesson: every participant sees who pushed it, and the lesson opens.
    instructor.get_by_test_id("push-pick").select_option(LESSON)
    instructor.get_by_test_id("push").click()
    expect(instructor.get_by_test_id("instructor-said")).to_contain_text("started in 3 labs")
    for page in people:
        expect(page.get_by_test_id("room-pushed")).to_contain_text("the instructor pushed")
        expect(page.get_by_test_id("lesson")).to_be_visible()

    # Answer: two right, one wrong; the instructor sees the count before any reveal.
    for page, choice in zip(people, (RIGHT, RIGHT, WRONG), strict=True):
        walk_to_question(page)
        page.get_by_test_id("prediction").locator("input").nth(choice).check()
        expect(page.get_by_test_id("vote-note")).to_contain_text("in the room's vote")
    expect(instructor.get_by_test_id("vote-answered")).to_contain_text("answered 3 of 3")
    expect(instructor.get_by_test_id("vote-bars-count").nth(RIGHT)).to_have_text("2 · 67%")
    # A reload before the reveal: the answer comes back from the server, still changeable.
    people[2].reload()
    radios = people[2].get_by_test_id("prediction").locator("input")
    expect(radios.nth(WRONG)).to_be_checked()
    expect(radios.nth(RIGHT)).to_be_enabled()
    # The grid shows each lab's sockets in small, with their TCP states.
    ada_row = instructor.locator("[data-testid=roster-row][data-name=Ada]")
    expect(ada_row.get_by_test_id("roster-socket").first).to_have_text("srv LISTEN")
    expect(ada_row.get_by_test_id("roster-sockets")).to_contain_text("cli ESTABLISHED")
    instructor.get_by_test_id("grid-filter").fill("established")
    expect(instructor.get_by_test_id("grid-count")).to_have_text("3 of 3 shown")
    instructor.get_by_test_id("grid-filter").fill("")

    # The projector PC: the instructor URL once (its cookie), then the projector page.
    projector = as_instructor(browser, server)
    projector.goto(f"{server.url}/projector")
    expect(projector.get_by_test_id("projector-code")).to_have_text(f"{code[:3]} {code[3:]}")
    expect(projector.get_by_test_id("projector-qr").locator("svg")).to_be_visible()
    lesson_title = "A server socket only makes connections"
    expect(projector.get_by_test_id("projector-lesson")).to_contain_text(lesson_title)
    expect(projector.get_by_test_id("projector-vote")).to_have_count(0)  # not before the reveal
    for screen, size in SCREENS.items():
        projector.set_viewport_size(size)  # type: ignore[arg-type]
        shot(projector, f"room-projector-join-{screen}")

    # Reveal: the counts reach the projector and each participant, next to its own kernel.
    instructor.get_by_test_id("vote-reveal").click()
    expect(instructor.get_by_test_id("vote-answered")).to_contain_text("revealed to the room")
    expect(projector.get_by_test_id("projector-bars-count").nth(RIGHT)).to_have_text("2 · 67%")
    for page in people:
        expect(page.get_by_test_id("room-votes-count").nth(WRONG)).to_have_text("1 · 33%")
    people[0].get_by_test_id("lesson-next").click()  # Ada runs the step: her kernel's answer
    expect(people[0].get_by_test_id("room-kernel")).to_contain_text("accept()")
    # The room's predictions next to what each kernel did: one lab ran it, two have not yet.
    groups = instructor.get_by_test_id("kernel-group")
    expect(groups).to_have_count(1)
    expect(groups.first).to_contain_text(
        "conn, addr = srv.accept()  ->  (conn, ('127.0.0.1', PORT))"
    )
    expect(groups.first.get_by_test_id("kernel-labs")).to_have_text("1 lab")
    expect(groups.first).to_contain_text("Ada")
    expect(instructor.get_by_test_id("kernel-waiting")).to_have_text("Not run yet in 2 labs.")
    people[1].get_by_test_id("lesson-next").click()  # Grace too: the same outcome, 2 labs
    expect(groups.first.get_by_test_id("kernel-labs")).to_have_text("2 labs")
    expect(projector.get_by_test_id("kernel-group")).to_have_count(1)  # revealed: shown there
    expect(projector.get_by_test_id("kernel-group")).not_to_contain_text("Ada")  # no names
    expect(people[2].get_by_test_id("room-mine")).not_to_contain_text("right")
    shot(people[0], "room-participant-1280x720")
    # After the reveal the answers are locked: the choices cannot be changed.
    expect(people[2].get_by_test_id("vote-note")).to_contain_text("yours is locked")
    expect(people[2].get_by_test_id("prediction").locator("input").nth(RIGHT)).to_be_disabled()

    # Freeze: the participant's banner, and its command refused with the reason.
    instructor.get_by_test_id("room-freeze").click()
    expect(instructor.get_by_test_id("instructor-frozen")).to_be_visible()
    linus = people[2]
    expect(linus.get_by_test_id("room-frozen")).to_contain_text("The instructor froze the room")
    # The loop's own buttons give way while the instructor holds it.
    expect(linus.get_by_test_id("loop-held")).to_have_text("held by the instructor")
    expect(linus.get_by_role("button", name="Resume")).to_have_count(0)
    linus.get_by_test_id("lesson-next").click()
    expect(linus.get_by_test_id("lesson").get_by_role("alert")).to_contain_text(
        "the instructor froze the room"
    )
    shot(linus, "room-participant-frozen-1280x720")
    instructor.get_by_test_id("room-resume").click()
    expect(instructor.get_by_test_id("room-freeze")).to_be_visible()
    expect(linus.get_by_test_id("room-frozen")).to_have_count(0)

    # One command in every lab at once; the outcomes come back grouped, with counts.
    instructor.get_by_test_id("run-commands").fill('{"op": "socket", "name": "probe"}')
    instructor.get_by_test_id("run-everywhere").click()
    expect(instructor.get_by_test_id("run-outcome")).to_contain_text("Ran in 3 labs")
    expect(instructor.get_by_test_id("run-bars-count")).to_have_text(["3 labs · 100%"])

    # Mirror Grace's lab on the projector (its page, already open, follows).
    grace_lab = people[1].url.rsplit("/", 1)[1]
    instructor.locator("[data-testid=roster-row][data-name=Grace]").get_by_test_id("mirror").click()
    expect(projector.get_by_test_id("mirror-view")).to_have_attribute("data-lab", grace_lab)
    expect(projector.get_by_test_id("projector-mirrored")).to_have_text("Grace's lab")
    expect(projector.get_by_test_id("event-log")).to_contain_text("cli.connect(")
    instructor.get_by_test_id("hide-names").check()
    expect(projector.get_by_test_id("projector-mirrored")).to_have_count(0)
    expect(projector.get_by_test_id("projector-anonymous")).to_have_text("a participant's lab")
    expect(projector.get_by_test_id("mirror-view")).to_have_attribute("data-lab", grace_lab)
    for page in (instructor, projector):  # the hand-off is the server's now
        assert page.evaluate("localStorage.getItem('sockscope-showing')") is None
    for screen, size in SCREENS.items():
        projector.set_viewport_size(size)  # type: ignore[arg-type]
        shot(projector, f"room-projector-mirror-{screen}")
        instructor.set_viewport_size(size)  # type: ignore[arg-type]
        expect(instructor.get_by_test_id("roster")).to_be_in_viewport()
        shot(instructor, f"room-instructor-{screen}")

    # Each lab's trace, from the grid, with the instructor's cookie: every event as JSON Lines.
    ada = instructor.locator("[data-testid=roster-row][data-name=Ada]")
    with instructor.expect_download() as download:
        ada.get_by_test_id("trace-link").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines and all(json.loads(line)["seq"] > 0 for line in lines)
    assert any(json.loads(line)["kind"] == "call" for line in lines)

    # An observer link: everything live, no controls, and the server refuses its commands.
    instructor.locator("[data-testid=roster-row][data-name=Ada]").get_by_test_id(
        "observer-link"
    ).click()
    url = instructor.get_by_test_id("observer-url").locator("a").inner_text()
    observer = open_page(context_of(browser))
    observer.goto(url)
    expect(observer.get_by_test_id("observer-badge")).to_be_visible()
    expect(observer.get_by_test_id("link-status")).to_have_text("live")
    expect(observer.get_by_test_id("event-log")).to_contain_text("accept")
    expect(observer.get_by_test_id("room-votes-count").nth(RIGHT)).to_have_text("2 · 67%")
    verdict = observer.get_by_test_id("prediction-verdict")  # Ada's answer, and right
    expect(verdict).to_contain_text('✓ The participant said "A new socket')
    for hidden in ("lesson-next", "lesson-restart", "lesson-picker", "step", "pause"):
        expect(observer.get_by_test_id(hidden)).to_have_count(0)
    expect(observer.locator(".controls")).to_have_count(0)
    status = observer.evaluate(
        """async () => (await fetch("/api" + location.pathname + "/commands" + location.search,
             {method: "POST", headers: {"content-type": "application/json"},
              body: JSON.stringify({op: "socket", name: "intruder"})})).status"""
    )
    assert status == 403
    # Without the link's token the lab is not shown at all.
    nobody = open_page(context_of(browser))
    nobody.goto(url.split("?")[0])
    expect(nobody.get_by_test_id("lab-refused")).to_be_visible()

    no_page_errors(instructor, projector, observer, *people)


def test_the_instructor_page_without_the_token_says_where_it_is(
    browser: Browser, room_server: LiveServer
) -> None:
    page = open_page(context_of(browser))
    page.goto(f"{room_server.url}/instructor")
    expect(page.get_by_test_id("instructor-refused")).to_contain_text(
        "docker compose logs sockscope | grep instructor"
    )
    page.goto(f"{room_server.url}/projector")
    expect(page.get_by_test_id("projector-refused")).to_be_visible()
    no_page_errors(page)


def test_a_learner_alone_still_gets_the_lab_with_no_room(
    browser: Browser, room_server: LiveServer
) -> None:
    page = open_page(context_of(browser))
    page.goto(room_server.url + "/")
    page.get_by_role("button", name="New lab").click()
    expect(page.get_by_test_id("link-status")).to_have_text("live")
    expect(page.locator(".controls")).to_be_visible()
    expect(page.get_by_test_id("room-bar")).to_have_count(0)
    no_page_errors(page)


@pytest.fixture
def strict_room(tmp_path: Path) -> Iterator[LiveServer]:
    """A room whose limits let one address hold one participant: every browser of a test
    comes from 127.0.0.1, as a whole room does behind a NAT or Docker Desktop."""
    settings = Settings(
        in_container=False, instructor_token=TOKEN, participants_per_client=1,
        joins_per_minute=100, data_dir=tmp_path,
    )  # fmt: skip
    yield from serve(settings)


def test_one_shared_address_then_follow_me(browser: Browser, strict_room: LiveServer) -> None:
    server = strict_room
    instructor = as_instructor(browser, server)
    code = instructor.get_by_test_id("instructor-code").inner_text()
    ada = join(browser, server, code, "Ada")

    # The second participant from the same address is refused, in words; the instructor
    # sees the refusals by address and raises the limit with one click.
    bob = open_page(context_of(browser))
    bob.goto(f"{server.url}/join/{code}")
    bob.get_by_test_id("join-name").fill("Bob")
    bob.get_by_test_id("join-submit").click()
    expect(bob.get_by_test_id("join-error")).to_contain_text("already holds 1 participants")
    refusal = instructor.get_by_test_id("join-refusal")
    expect(refusal).to_contain_text("127.0.0.1: 1 refused")
    shot(instructor, "room-instructor-refused-1280x720")
    instructor.get_by_test_id("limits-room").click()
    expect(instructor.get_by_test_id("instructor-said")).to_contain_text("hold 300 participants")
    expect(instructor.get_by_test_id("join-refusals")).to_have_count(0)
    bob.get_by_test_id("join-submit").click()
    expect(bob.get_by_test_id("room-name")).to_have_text("Bob")

    # Follow me: the room moves when the instructor does, and a latecomer catches up.
    instructor.get_by_test_id("push-pick").select_option(LESSON)
    instructor.get_by_test_id("push-follow").check()
    instructor.get_by_test_id("push").click()
    expect(instructor.get_by_test_id("instructor-said")).to_contain_text("started in 2 labs")
    for step in (1, 2, 3):
        instructor.get_by_test_id("follow-next").click()
        expect(instructor.get_by_test_id("instructor-said")).to_contain_text(f"Step {step}:")
        for page in (ada, bob):
            expect(page.get_by_test_id("lesson-progress")).to_have_text(f"step {step + 1} of 25")
    expect(ada.get_by_test_id("lesson-reveal")).to_contain_text("srv.listen(5)")
    late = join(browser, server, code, "Late")
    expect(late.get_by_test_id("lesson-progress")).to_have_text("step 4 of 25")
    expect(instructor.get_by_test_id("roster-row")).to_have_count(3)
    no_page_errors(instructor, ada, bob, late)
