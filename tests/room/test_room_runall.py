"""Grouping a room-wide run's outcomes."""

from __future__ import annotations

from sockscope.labs.bridge import Answer
from sockscope.room.runall import grouped, outcome_of, same_everywhere


def test_groups_are_largest_first_with_their_names() -> None:
    groups = grouped(["a", "b", "c", "d"], ["returned 6144", "EAGAIN", "returned 6144", "x"])
    assert groups[0] == {"outcome": "returned 6144", "labs": 2, "participants": ["a", "c"]}
    assert [g["labs"] for g in groups] == [2, 1, 1]


def test_what_differs_by_chance_between_labs_is_left_out() -> None:
    text = "(<socket fd=12>, ('127.0.0.1', 51234))"
    assert same_everywhere(text) == "(<socket fd=N>, ('127.0.0.1', PORT))"


def test_an_answer_becomes_an_outcome() -> None:
    refused = Answer(400, False, None, {"errno": None, "message": "no socket 'x'"}, [])
    assert outcome_of(refused) == "refused: no socket 'x'"
    failed = Answer(200, False, None, {"errno": "EAGAIN", "message": "..."}, [])
    assert outcome_of(failed) == "EAGAIN"
    assert outcome_of(Answer(200, True, None, None, [], blocked=True)) == "blocked"
    assert outcome_of(Answer(200, True, {"paused": True}, None, [])) == "returned {'paused': True}"
