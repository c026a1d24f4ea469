"""Room votes (peer instruction): answer, count, reveal, revote, export.

A question is a lesson step with a prediction, named by (lesson id, step index). Round 1 is
open from the start; POST /api/room/revote opens round 2 (after a discussion), which closes
round 1. An answer may change until its round is revealed; from then on it is locked, and
the counts are shown to the participants. Seconds to answer run from the round's opening:
the revote for round 2; for round 1 the moment the instructor's "next" reached the step
in follow mode, else the lesson's push, else the participant's joining.
"""

from __future__ import annotations

import csv
import io
import time

from sockscope.contract.room import AnswerRound, RoomAnswers
from sockscope.engine.core.errors import CommandError, Conflict
from sockscope.lessons.model import Lesson, Prediction, find_lesson
from sockscope.room.store import Participant, RoomStore, Round

LOCKED = "answers are locked: the instructor revealed this question"
CSV_COLUMNS = (
    "participant",
    "lesson",
    "question",
    "first answer",
    "second answer",
    "right",
    "seconds to answer",
)


class BadQuestion(CommandError):
    """A step that asks nothing, or an index out of range."""


class NoLesson(CommandError):
    status = 404


def lesson_of(lesson_id: str) -> Lesson:
    lesson = find_lesson(lesson_id)
    if lesson is None:
        raise NoLesson("lesson", f"no lesson {lesson_id!r}")
    return lesson


def prediction_of(lesson_id: str, step: int) -> Prediction:
    """Raises NoLesson, or BadQuestion naming the index at fault."""
    lesson = lesson_of(lesson_id)
    if not 0 <= step < len(lesson.steps):
        raise BadQuestion(
            "step", f"step: lesson {lesson_id!r} has steps 0 to {len(lesson.steps) - 1}"
        )
    predict = lesson.steps[step].predict
    if predict is None:
        asks = [i for i, s in enumerate(lesson.steps) if s.predict is not None]
        raise BadQuestion("step", f"step {step} asks no question; the questions are steps {asks}")
    return predict


def current_round(store: RoomStore, lesson: str, step: int) -> int:
    rounds = store.rounds(lesson, step)
    return rounds[-1].round if rounds else 1


def take_answer(store: RoomStore, who: Participant, lesson: str, step: int, choice: int) -> int:
    """Record ``who``'s answer in the question's open round; its number."""
    predict = prediction_of(lesson, step)
    if not 0 <= choice < len(predict.choices):
        raise BadQuestion("choice", f"choice: pick 0 to {len(predict.choices) - 1}")
    number = current_round(store, lesson, step)
    if not store.answer(who.id, lesson, step, number, choice):
        raise Conflict(None, LOCKED)
    return number


def reveal(store: RoomStore, lesson: str, step: int) -> int:
    prediction_of(lesson, step)
    number = current_round(store, lesson, step)
    store.reveal(lesson, step, number)
    return number


def revote(store: RoomStore, lesson: str, step: int) -> int:
    prediction_of(lesson, step)
    if current_round(store, lesson, step) == 2:
        raise Conflict(None, "this question already had its second vote")
    store.open_round(lesson, step, 1, None)  # closes round 1 whether it was revealed or not
    store.open_round(lesson, step, 2, time.time())
    return 2


def counts(store: RoomStore, lesson: str, step: int, number: int, choices: int) -> list[int]:
    tally = [0] * choices
    for row in store.answers(lesson, step, number):
        if 0 <= row.choice < choices:
            tally[row.choice] += 1
    return tally


def summary(store: RoomStore, lesson: str, step: int, number: int | None) -> RoomAnswers:
    predict = prediction_of(lesson, step)
    rounds = store.rounds(lesson, step)
    opened = rounds[-1].round if rounds else 1
    number = opened if number is None else number
    if number not in (1, 2) or number > opened:
        rounds_text = "rounds 1 and 2" if opened > 1 else "round 1 only"
        raise BadQuestion("round", f"round: this question has {rounds_text}")
    tally = counts(store, lesson, step, number, len(predict.choices))
    return {
        "lesson": lesson,
        "step": step,
        "round": number,
        "rounds": opened,
        "answered": sum(tally),
        "participants": len(store.participants()),
        "counts": tally,
        "revealed": _revealed(rounds, number),
        "answer": predict.answer,
    }


def own_rounds(store: RoomStore, who: Participant, lesson: str, step: int) -> list[AnswerRound]:
    """``who``'s answers to the question; the room's counts and the answer once revealed."""
    predict = prediction_of(lesson, step)
    rounds = store.rounds(lesson, step)
    given = store.answers(lesson, step)
    mine = {row.round: row.choice for row in given if row.participant == who.id}
    found: list[AnswerRound] = []
    for number in range(1, (rounds[-1].round if rounds else 1) + 1):
        shown = _revealed(rounds, number)
        tally = counts(store, lesson, step, number, len(predict.choices))
        found.append(
            {
                "round": number,
                "choice": mine.get(number),
                "revealed": shown,
                "counts": tally if shown else None,
                "answer": predict.answer if shown else None,
            }
        )
    return found


def _revealed(rounds: list[Round], number: int) -> bool:
    return any(r.round == number and r.revealed_at is not None for r in rounds)


def export_csv(store: RoomStore) -> str:
    """One row per participant and question answered (CSV_COLUMNS)."""
    room = store.room("")
    people = {p.id: p for p in store.participants()}
    by_key: dict[tuple[str, str, int], dict[int, tuple[int, float]]] = {}
    for row in store.answers():
        by_key.setdefault((row.participant, row.lesson, row.step), {})[row.round] = (
            row.choice,
            row.answered_at,
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    order = {pid: index for index, pid in enumerate(people)}  # joining order
    keys = sorted(by_key, key=lambda k: (k[1], k[2], order.get(k[0], len(order)), k[0]))
    for pid, lesson_id, step in keys:
        given = by_key[(pid, lesson_id, step)]
        lesson = find_lesson(lesson_id)
        predict = lesson.steps[step].predict if lesson and step < len(lesson.steps) else None
        if predict is None:
            continue
        who = people.get(pid)
        rounds = {r.round: r for r in store.rounds(lesson_id, step)}
        first, second = given.get(1), given.get(2)
        final = second or first
        assert final is not None
        number = 2 if second else 1
        opened = rounds[number].opened_at if number in rounds else None
        if opened is None and number == 1:
            pushed = room.pushed_at if room.lesson == lesson_id else None
            opened = pushed or (who.joined_at if who else None)
        seconds = "" if opened is None else f"{max(0.0, final[1] - opened):.1f}"
        writer.writerow(
            [
                spreadsheet_safe(who.name if who else pid),
                lesson_id,
                predict.question,
                _choice(predict, first),
                _choice(predict, second),
                "yes" if final[0] == predict.answer else "no",
                seconds,
            ]
        )
    return out.getvalue()


def spreadsheet_safe(text: str) -> str:
    """A participant's own text, never read as a formula by a spreadsheet (CSV injection):
    a leading = + - @ (or tab, carriage return) gets a quote in front."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _choice(predict: Prediction, given: tuple[int, float] | None) -> str:
    if given is None:
        return ""
    index = given[0]
    return predict.choices[index] if 0 <= index < len(predict.choices) else str(index)
