"""Run a lesson to its end in a lab of a registry, as the lessons' own tests and the lab
hosts' tests do."""

from __future__ import annotations

import asyncio
import concurrent.futures

from sockscope.events import CheckOutcome
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
            return pool.submit(asyncio.run, go()).result(timeout=120)
    finally:
        registry.delete(lab.id)
