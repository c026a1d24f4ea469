"""After a vote: the room's predictions next to what each lab's kernel did at that step.

Every lab is a real kernel, so the same step gives different numbers in different labs
(how much one send() took depends on the buffers the kernel chose and on what the reader had
drained): the instructor's page and the projector show the groups, each with what the people
in it had predicted. Pure: the caller passes each lab's line for the step (None: not run yet).
"""

from __future__ import annotations

from collections.abc import Sequence

from sockscope.contract.room import KernelGroup, RoomKernels
from sockscope.room.runall import same_everywhere
from sockscope.room.store import Participant, RoomStore
from sockscope.room.votes import current_round, prediction_of

NOT_RUN = "not run here yet"


def compare(
    store: RoomStore, lesson: str, step: int, said: Sequence[tuple[Participant, str | None]]
) -> RoomKernels:
    """Group the labs by what their kernel said at ``step`` (fds and ports masked)."""
    predict = prediction_of(lesson, step)
    number = current_round(store, lesson, step)
    picked = {row.participant: row.choice for row in store.answers(lesson, step, number)}
    groups: dict[str, list[Participant]] = {}
    for participant, line in said:
        groups.setdefault(NOT_RUN if line is None else same_everywhere(line), []).append(
            participant
        )
    found: list[KernelGroup] = []
    for outcome, people in groups.items():
        choices = [0] * len(predict.choices)
        unanswered = 0
        for person in people:
            choice = picked.get(person.id)
            if choice is not None and 0 <= choice < len(choices):
                choices[choice] += 1
            else:
                unanswered += 1
        found.append(
            {
                "outcome": outcome,
                "ran": outcome != NOT_RUN,
                "labs": len(people),
                "participants": [p.name for p in people],
                "choices": choices,
                "unanswered": unanswered,
            }
        )
    found.sort(key=lambda g: (not g["ran"], -g["labs"], g["outcome"]))
    return {
        "lesson": lesson,
        "step": step,
        "round": number,
        "answer": predict.answer,
        "labs": len(said),
        "ran": sum(g["labs"] for g in found if g["ran"]),
        "groups": found,
    }
