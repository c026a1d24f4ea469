"""Votes on a store of their own: rounds, locking, the CSV export."""

from __future__ import annotations

import csv
import io

import pytest

from sockscope.engine.core.errors import Conflict
from sockscope.lessons.model import find_lesson
from sockscope.room import votes
from sockscope.room.store import RoomStore

LESSON, STEP = "server-sockets", 5


@pytest.fixture
def store() -> RoomStore:
    made = RoomStore(None)
    made.room("ABC234")
    return made


def test_a_revote_closes_round_one_and_a_third_is_refused(store: RoomStore) -> None:
    ada = store.add_participant("p1", "Ada", "t1", "c")
    assert votes.take_answer(store, ada, LESSON, STEP, 0) == 1
    assert votes.revote(store, LESSON, STEP) == 2
    assert votes.take_answer(store, ada, LESSON, STEP, 1) == 2
    with pytest.raises(Conflict):
        votes.revote(store, LESSON, STEP)
    assert votes.summary(store, LESSON, STEP, 1)["counts"] == [1, 0, 0]
    assert votes.reveal(store, LESSON, STEP) == 2
    with pytest.raises(Conflict, match="locked"):
        votes.take_answer(store, ada, LESSON, STEP, 2)


def test_the_export_cannot_smuggle_a_formula_into_a_spreadsheet(store: RoomStore) -> None:
    sly = store.add_participant("p1", '=HYPERLINK("http://x")', "t1", "c")
    votes.take_answer(store, sly, LESSON, STEP, 1)
    rows = list(csv.reader(io.StringIO(votes.export_csv(store))))
    assert rows[0] == list(votes.CSV_COLUMNS)
    assert rows[1][0] == '\'=HYPERLINK("http://x")'
    lesson = find_lesson(LESSON)
    assert lesson is not None and lesson.steps[STEP].predict is not None
    assert rows[1][2] == lesson.steps[STEP].predict.question and rows[1][5] == "yes"
    assert votes.spreadsheet_safe("Ada") == "Ada"
