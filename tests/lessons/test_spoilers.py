"""No lesson gives a prediction's answer away before the participant has answered.

Each prediction marks its answer with ``key`` (model.py): the words that would give it
away. Up to a question the panel has shown the text of every step so far, the question
itself and the ``why`` of the earlier reveals; none of them may hold a key phrase.
"""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest

from sockscope.engine.core.policy import LabPolicy
from sockscope.labs.registry import LabRegistry
from sockscope.lessons.model import Lesson, Prediction, all_lessons, find_lesson, parse_lesson
from sockscope.lessons.runner import NOT_YET, LessonRun

QUESTIONS = [
    pytest.param(lesson, index, id=f"{lesson.id}-step{index + 1}")
    for lesson in all_lessons()
    for index, step in enumerate(lesson.steps)
    if step.predict is not None
]


def shown_before_reveal(lesson: Lesson, index: int) -> list[tuple[str, str]]:
    """(where, text) of everything the panel has shown when step ``index`` asks."""
    shown: list[tuple[str, str]] = [("title", lesson.title), ("teaser", lesson.teaser)]
    # The checks' lines, as the panel shows them before their evidence exists.
    shown += [(f"check {c.check} (claim {c.claim})", c.asks) for c in lesson.checks]
    for i, step in enumerate(lesson.steps[: index + 1]):
        shown.append((f"step {i + 1} text", step.text))
        if step.predict is not None and i < index:
            shown.append((f"step {i + 1} why", step.predict.why))
    question = lesson.steps[index].predict
    assert question is not None
    shown.append((f"step {index + 1} question", question.question))
    return shown


def spoilers(lesson: Lesson, index: int) -> list[str]:
    question = lesson.steps[index].predict
    assert question is not None
    return [
        f"{where} says {phrase!r}: {text!r}"
        for where, text in shown_before_reveal(lesson, index)
        for phrase in question.key
        if phrase.casefold() in text.casefold()
    ]


@pytest.mark.parametrize(("lesson", "index"), QUESTIONS)
def test_no_text_before_the_question_gives_its_answer(lesson: Lesson, index: int) -> None:
    question = lesson.steps[index].predict
    assert isinstance(question, Prediction)
    assert question.key, "a prediction names the words that give its answer away (key)"
    revealed = (question.choices[question.answer] + " " + question.why).casefold()
    assert any(phrase.casefold() in revealed for phrase in question.key), (
        f"none of {question.key} is in the answer or its why: the key marks another answer"
    )
    assert spoilers(lesson, index) == []


def test_the_check_catches_a_step_that_answers_its_own_question() -> None:
    raw = {
        "id": "spoiled",
        "title": "t",
        "howto_sections": ["x"],
        "claims": [],
        "teaser": "t",
        "summary": "s",
        "steps": [
            {
                "text": "Two seconds later, nothing has changed.",
                "action": {"do": "pause", "seconds": 2},
                "predict": {
                    "question": "In which state is conn two seconds later?",
                    "choices": ["CLOSED", "Still CLOSE_WAIT"],
                    "answer": 1,
                    "key": "nothing has changed",
                    "why": "w",
                },
            }
        ],
    }
    lesson = parse_lesson(raw, "spoiled.toml")
    assert lesson.steps[0].predict is not None
    assert lesson.steps[0].predict.key == ("nothing has changed",)
    assert spoilers(lesson, 0) == [
        "step 1 text says 'nothing has changed': 'Two seconds later, nothing has changed.'"
    ]


def test_a_check_under_way_says_nothing_of_what_it_waits_for() -> None:
    """Until the lesson is over, a check not yet passed reads "not yet observed": its own
    words ("no recv() has timed out") would answer the question the next step asks. A check
    whose evidence exists may pass (and then show it) before the end; none fails before it."""
    lesson = find_lesson("end-of-stream")
    assert lesson is not None
    registry = LabRegistry(LabPolicy(), max_labs=2, idle_timeout=600)
    lab = registry.create()
    seen: list[tuple[int, bool | None, str]] = []

    async def go() -> None:
        runner = LessonRun(lab, lesson)
        await runner.start()
        while not runner.finished:
            await runner.next()
            seen.extend((runner.position, o.passed, o.observed) for o in runner.checks())

    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, go()).result(timeout=60)
    finally:
        registry.close_all()
    during = [s for s in seen if s[0] < len(lesson.steps)]
    pending = [s for s in during if s[1] is not True]
    assert pending and all(passed is None and said == NOT_YET for _, passed, said in pending), [
        s for s in pending if s[2] != NOT_YET
    ]
    assert all(passed is True for _, passed, _ in seen[-len(lesson.checks) :])
