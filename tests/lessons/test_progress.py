"""While a lesson is under way, a check shows "not yet" until its evidence can exist.

A check that shows ✗ before the step it is about has run tells the participant the
kernel disproved a claim it has not yet been asked about.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator

import pytest

from sockscope.engine.core.policy import LabPolicy
from sockscope.events import CheckOutcome
from sockscope.labs.registry import LabRegistry
from sockscope.lessons.model import find_lesson
from sockscope.lessons.runner import LessonRun


@pytest.fixture
def registry() -> Iterator[LabRegistry]:
    reg = LabRegistry(LabPolicy(), max_labs=2, idle_timeout=600)
    yield reg
    reg.close_all()


def test_end_of_stream_never_shows_a_cross_before_its_end(registry: LabRegistry) -> None:
    lesson = find_lesson("end-of-stream")
    assert lesson is not None
    lab = registry.create()

    async def walk() -> tuple[list[list[CheckOutcome]], list[CheckOutcome]]:
        runner = LessonRun(lab, lesson)
        await runner.start()
        seen = []
        while not runner.finished:
            await asyncio.wait_for(runner.next(), 30)
            if not runner.finished:
                seen.append(runner.checks())
        return seen, runner.checks()

    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            during, final = pool.submit(asyncio.run, walk()).result(timeout=90)
    finally:
        registry.delete(lab.id)
    silent = next(
        i
        for i, s in enumerate(lesson.steps)
        if s.predict and "recv(1024) do now" in s.predict.question
    )
    # Until the silent recv() has run, claim 9 (a recv() on a silent connection waits) is
    # "not yet": the quick recv() before it, that found the request, proves nothing.
    for i in range(silent):
        claim9 = next(c for c in during[i] if c.claim == 9)
        assert claim9.passed is None, f"after step {i + 1}: {claim9.observed}"
    crosses = [
        (i + 1, c) for i, outcomes in enumerate(during) for c in outcomes if c.passed is False
    ]
    assert crosses == []
    assert [c.passed for c in final] == [True, True], final
