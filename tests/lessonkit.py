"""Run a lesson to its end in a lab of a registry, as the lessons' own tests and the lab
hosts' tests do."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import typing

from sockscope.events import CheckOutcome, from_wire, to_wire
from sockscope.labs.registry import Lab, LabRegistry
from sockscope.lessons.model import Lesson
from sockscope.lessons.runner import LessonRun


def run_to_end(registry: LabRegistry, lesson: Lesson, lab: Lab | None = None) -> list[CheckOutcome]:
    """The lesson's checks once it ran in ``lab`` (a new one by default); the lab is closed."""
    lab = lab or registry.create()

    async def go() -> list[CheckOutcome]:
        runner = LessonRun(lab, lesson)
        await runner.start()
        outcomes: list[CheckOutcome] = await asyncio.wait_for(runner.run_to_end(), 90)
        assert runner.failed is None, runner.failed
        return outcomes

    try:
        # A thread of its own: no event loop of another test can be in the way.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            outcomes = pool.submit(asyncio.run, go()).result(timeout=120)
        same_from_the_wire(lab)
        return outcomes
    finally:
        registry.delete(lab.id)


def same_from_the_wire(lab: Lab) -> None:
    """Every event the lesson made comes back from its JSON as the same event (lab hosts send
    events to the web process as that JSON; events.from_wire): each typed field equal, records
    and tuples included; a free-form JSONValue field (a call's result, a lesson's data) equal
    as JSON, since JSON has lists where Python had tuples."""
    for event in lab.engine.log.after(0, 1 << 30).events:
        text = json.dumps(to_wire(event), separators=(",", ":"))
        back = from_wire(json.loads(text))
        assert type(back) is type(event), text
        hints = typing.get_type_hints(type(event))
        for f in dataclasses.fields(event):
            ours, theirs = getattr(back, f.name), getattr(event, f.name)
            if hints[f.name] is typing.Any:  # JSONValue
                assert to_wire(ours) == to_wire(theirs), (f.name, text)
            else:
                assert ours == theirs, (f.name, text)
