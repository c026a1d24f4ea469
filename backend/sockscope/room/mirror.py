"""What the projector shows: one participant's lab (or the join code), names or not, and the
question whose counts it shows once revealed.

The instructor sets it (POST /api/room/mirror) and the projector page reads it from
GET /api/room, so the projector can be another machine (the classroom's PC, with the
instructor's cookie) rather than a second tab of the instructor's browser. It is kept in the
room's SQLite file by participant: after a restart the mirror shows that participant's new
lab as soon as it has one.
"""

from __future__ import annotations

from sockscope.contract.room import RoomMirror
from sockscope.engine.core.errors import CommandError
from sockscope.room import votes
from sockscope.room.room import OWNER, Room
from sockscope.room.store import MirrorRow


class NotInRoom(CommandError):
    status = 404


def set_mirror(
    room: Room, lab_id: str | None, hide_names: bool, question: tuple[str, int] | None
) -> RoomMirror:
    """Raises NotInRoom for a lab that is no room participant's running lab, and
    NoLesson or BadQuestion (votes.py) for a question that is none."""
    participant = None
    if lab_id is not None:
        lab = room.registry.get(lab_id)
        owner = None if lab is None or lab.engine.closed.is_set() else lab.extras.get(OWNER)
        found = room.store.participant(str(owner)) if owner is not None else None
        if found is None:
            raise NotInRoom(
                "lab", f"no lab {lab_id!r} in the room: mirror a lab from the instructor's grid"
            )
        participant = found.id
    if question is not None:
        votes.prediction_of(*question)
    room.store.set_mirror(MirrorRow(participant, hide_names, question))
    return mirror_state(room)


def mirror_state(room: Room) -> RoomMirror:
    row = room.store.mirror()
    who = room.store.participant(row.participant) if row.participant else None
    lab = room.lab_now(who) if who else None
    question = row.question
    return {
        "lab": lab.id if lab else None,
        "participant": who.id if who else None,
        "name": who.name if who else None,
        "hide_names": row.hide_names,
        "question": {"lesson": question[0], "step": question[1]} if question else None,
    }
