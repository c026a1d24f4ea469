"""Lesson routes: list lessons, run one in a lab step by step or to the end."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from sockscope.api.access import room_errors
from sockscope.api.routes import NotFound, drivable, lab_or_404
from sockscope.api.wire import error_responses
from sockscope.contract.lessons import (
    LessonDefinition,
    LessonOutline,
    LessonState,
    LessonStepAnswer,
)
from sockscope.events import to_wire
from sockscope.labs.registry import Lab
from sockscope.lessons.model import Lesson, all_lessons, find_lesson, public
from sockscope.lessons.runner import LessonRun

router = APIRouter(prefix="/api", tags=["lessons"])
KEY = "lesson"


def lesson_or_404(lesson_id: str) -> Lesson:
    lesson = find_lesson(lesson_id)
    if lesson is None:
        known = ", ".join(lesson.id for lesson in all_lessons())
        raise NotFound("lesson", f"no lesson {lesson_id!r}; the lessons are: {known}")
    return lesson


def lab_lock(lab: Lab) -> asyncio.Lock:
    """One lesson action at a time per lab: a restart must not clear a lab under a run."""
    lock: asyncio.Lock = lab.extras.setdefault("lesson_lock", asyncio.Lock())
    return lock


def current(lab: Lab, lesson: Lesson) -> LessonRun | None:
    run: LessonRun | None = lab.extras.get(KEY)
    return run if run is not None and run.lesson.id == lesson.id else None


async def started(lab: Lab, lesson: Lesson) -> LessonRun:
    run = LessonRun(lab, lesson)
    lab.extras[KEY] = run
    await run.start()
    return run


@router.get("/lessons")
async def list_lessons() -> list[LessonOutline]:
    """Every lesson: id, title, the HOWTO sections it follows and the claims it proves."""
    return [lesson.outline() for lesson in all_lessons()]


@router.get("/lessons/{lesson_id}", responses=error_responses(404))
async def get_lesson(lesson_id: str) -> LessonDefinition:
    """One lesson with its steps, questions and checks."""
    return public(lesson_or_404(lesson_id))


@router.post("/labs/{lab_id}/lessons/{lesson_id}/start", responses=room_errors(401, 404, 423, 503))
async def start_lesson(request: Request, lab_id: str, lesson_id: str) -> LessonState:
    """Clear the lab (every socket closed) and put the lesson at its first step."""
    lab, lesson = drivable(request, lab_id), lesson_or_404(lesson_id)
    async with lab_lock(lab):
        return (await started(lab, lesson)).state()


@router.post(
    "/labs/{lab_id}/lessons/{lesson_id}/next", responses=room_errors(401, 404, 409, 423, 503)
)
async def next_step(request: Request, lab_id: str, lesson_id: str) -> LessonStepAnswer:
    """Run the lesson's next step; answers what the kernel did and where the checks stand."""
    lab, lesson = drivable(request, lab_id), lesson_or_404(lesson_id)
    async with lab_lock(lab):
        run = current(lab, lesson) or await started(lab, lesson)
        report = await run.next()
    return {
        "step": report.index,
        "ok": report.ok,
        "message": report.message,
        "events": report.events,
        "data": report.data,
        **run.state(),
    }


@router.post(
    "/labs/{lab_id}/lessons/{lesson_id}/run", responses=room_errors(401, 404, 409, 423, 503)
)
async def run_lesson(request: Request, lab_id: str, lesson_id: str) -> LessonState:
    """Run the lesson to its end (from the start unless it is under way) and return its checks.

    Each check is `{"claim": N, "passed": bool, "observed": "..."}`, judged on what
    the kernel did in this run.
    """
    lab, lesson = drivable(request, lab_id), lesson_or_404(lesson_id)
    async with lab_lock(lab):
        run = current(lab, lesson)
        if run is None or run.finished:
            run = await started(lab, lesson)
        outcomes = await run.run_to_end()
    return {**run.state(), "checks": [to_wire(c) for c in outcomes]}


@router.get("/labs/{lab_id}/lesson", responses=error_responses(404))
async def lesson_state(request: Request, lab_id: str) -> LessonState | None:
    """The lesson under way in this lab (null when there is none)."""
    run: LessonRun | None = lab_or_404(request, lab_id).extras.get(KEY)
    return None if run is None else run.state()
