"""Grouping a room-wide run's outcomes."""

from __future__ import annotations

from sockscope.events import CallEvent
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


def test_the_call_a_command_is_named_after_is_its_outcome() -> None:
    def call(op: str, text: str, errno: str | None = None) -> CallEvent:
        return CallEvent(seq=1, t_ns=0, call_id=1, socket="s", op=op, line="", via="command",
                         asked=None, done=None, data=None, result=None, result_text=text,
                         errno=errno, error=None, started_ns=0, duration_ns=0)  # fmt: skip

    made = Answer(
        200, True, None, None, [call("socket", "<socket fd=7>"), call("setsockopt", "None")]
    )
    assert outcome_of(made, "socket") == "returned <socket fd=N>"
    assert outcome_of(made) == "returned None"  # no op given: the last call
    refused = Answer(200, True, None, None, [call("connect", "", "ECONNREFUSED")])
    assert outcome_of(refused, "connect") == "ECONNREFUSED"
