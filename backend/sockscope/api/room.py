"""The room's routes: join, the instructor's controls, votes, room-wide runs, export.

The state and its rules are in ``room/``; this module reads requests, checks who asks
(api/access.py) and drives the labs' lessons (which api/lessons.py keeps per lab).
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from sockscope.api.access import (
    PARTICIPANT_COOKIE,
    authorize,
    bearer,
    caller_of,
    client_of,
    require_instructor,
    require_participant,
    room_errors,
    room_of,
)
from sockscope.api.lessons import KEY, lab_lock, lesson_or_404, started
from sockscope.api.routes import COMMAND_COMPONENTS, lab_or_404
from sockscope.contract.room import (
    AnswerTaken,
    HelpState,
    LabAnswers,
    Me,
    ObserverLink,
    Revealed,
    RoomAnswers,
    RoomKernels,
    RoomLimits,
    RoomMirror,
    RoomParticipant,
    RoomRun,
    RoomState,
    RoomStep,
    WhoAmI,
)
from sockscope.contract.room_requests import (
    AnswerRequest,
    FreezeRequest,
    HelpRequest,
    JoinRequest,
    LimitsRequest,
    MirrorRequest,
    ObserverRequest,
    PushRequest,
    QuestionRequest,
    RunRequest,
)
from sockscope.engine.core.errors import CommandError, Conflict, ForbiddenError
from sockscope.events import CallEvent
from sockscope.labs.registry import Lab
from sockscope.lessons.runner import LessonRun
from sockscope.room import flags, kernels, votes
from sockscope.room.mirror import mirror_state, set_mirror
from sockscope.room.room import OWNER, Room
from sockscope.room.runall import grouped, run_everywhere, same_everywhere
from sockscope.room.store import Participant

router = APIRouter(prefix="/api")


def run_of(lab: Lab | None) -> LessonRun | None:
    return None if lab is None else lab.extras.get(KEY)


async def lab_with_lesson(room: Room, participant: Participant) -> tuple[Lab, bool]:
    """The participant's lab (made again if lost); a new or remade one starts the pushed
    lesson, and in follow mode catches up with the instructor's step."""
    lab, recreated = await room.lab_of(participant)
    row = room.row
    if row.lesson is None or run_of(lab) is not None:
        return lab, recreated
    if await _start(room, lab, row.lesson) == "started" and row.follow and row.follow_step:
        await _advance(room, lab, row.lesson, row.follow_step)
    return lab, recreated


async def _start(room: Room, lab: Lab, lesson_id: str) -> str:
    lesson = lesson_or_404(lesson_id)
    try:
        async with lab_lock(lab):
            await started(lab, lesson)
    except (CommandError, TimeoutError) as exc:
        return f"not started: {exc}"
    if room.frozen:  # a lesson's start clears the lab, and that resumes its loop
        await room.loop_op(lab, "pause")
    return "started"


# -- joining -------------------------------------------------------------------------------


@router.post("/room/join", status_code=201, tags=["room"], responses=room_errors(403, 429, 503))
async def join(request: Request, body: JoinRequest) -> JSONResponse:
    """Join with the projector's code; the answer's token (also an HttpOnly cookie) drives the
    lab. The same browser joining again gets the same participant and lab (200)."""
    room = room_of(request)
    known = caller_of(request).participant
    joined = await room.join(body.code, body.name, client_of(request), known)
    lab, recreated = await lab_with_lesson(room, joined.participant)
    token = joined.token or _presented_token(request)
    answer = {
        "participant": joined.participant.id,
        "name": joined.participant.name,
        "lab": lab.id,
        "token": token,
        "recreated": recreated,
        "lesson": room.row.lesson,
        "frozen": room.frozen,
    }
    response = JSONResponse(answer, status_code=201 if joined.token else 200)
    if joined.token:
        response.set_cookie(
            PARTICIPANT_COOKIE, joined.token, httponly=True, samesite="strict", max_age=86400 * 7
        )
    return response


def _presented_token(request: Request) -> str:
    return bearer(request) or request.cookies.get(PARTICIPANT_COOKIE, "")


@router.get("/room/me", tags=["room"], responses=room_errors(401))
async def me(request: Request) -> Me:
    """The participant: its lab (made again, empty, if the server lost it), the pushed lesson,
    whether the room is frozen, and which of the lesson's questions were revealed."""
    room = room_of(request)
    participant = require_participant(request)
    lab, recreated = await lab_with_lesson(room, participant)
    row = room.row
    fresh = room.store.participant(participant.id) or participant
    revealed = room.store.revealed(row.lesson) if row.lesson else []
    return {
        "participant": participant.id,
        "name": participant.name,
        "lab": lab.id,
        "recreated": recreated,
        "lesson": row.lesson,
        "pushed_by": "instructor" if row.lesson else None,
        "frozen": row.frozen,
        "follow": row.follow,
        "follow_step": row.follow_step,
        "help": fresh.help_at is not None,
        "revealed": [{"lesson": r.lesson, "step": r.step, "round": r.round} for r in revealed],
    }


@router.get("/room/whoami", tags=["room"])
async def whoami(request: Request) -> WhoAmI:
    """Who the request's credentials make the caller; never refused, and nothing is made
    (a participant whose lab was lost gets it back from /api/room/me)."""
    room = room_of(request)
    caller = caller_of(request)
    participant = caller.participant
    mine = room.lab_now(participant) if participant else None
    watched = room.store.participant(caller.observes) if caller.observes else None
    watched_lab = room.lab_now(watched) if watched else None
    return {
        "instructor": caller.instructor,
        "participant": participant.id if participant else None,
        "name": participant.name if participant else None,
        "lab": mine.id if mine else None,
        "observes": watched_lab.id if watched_lab else None,
    }


@router.post("/room/help", tags=["room"], responses=room_errors(401))
async def help_request(request: Request, body: HelpRequest) -> HelpState:
    """Raise (or lower) the participant's hand: the instructor's grid flags it."""
    return {"help": room_of(request).set_help(require_participant(request), body.on)}


# -- the instructor's view -----------------------------------------------------------------


def last_call(lab: Lab | None) -> str | None:
    if lab is None:
        return None
    log = lab.engine.log
    for event in reversed(log.after(max(0, log.last_seq - 200), 200).events):
        if isinstance(event, CallEvent):
            return f"{event.line} -> {event.result_text}"
    return None


@router.get("/room", tags=["room"], responses=room_errors(401))
async def get_room(request: Request) -> RoomState:
    """Every participant with its lab, lesson and step, last call and flags (room/flags.py)."""
    require_instructor(request)
    room = room_of(request)
    rows: list[RoomParticipant] = []
    for participant in room.store.participants():
        lab = room.lab_now(participant)
        run = run_of(lab)
        rows.append(
            {
                "id": participant.id,
                "name": participant.name,
                "lab": lab.id if lab else None,
                "lesson": run.lesson.id if run else None,
                "step": run.position if run else None,
                "last_call": last_call(lab),
                "sockets": [{"name": n, "state": st} for n, st in lab.engine.glance()]
                if lab
                else [],
                "flags": flags.flags_of(lab, participant.help_at is not None),
            }
        )
    row = room.row
    return {
        "code": row.code,
        "participants": rows,
        "lesson": row.lesson,
        "frozen": row.frozen,
        "follow": row.follow,
        "follow_step": row.follow_step,
        "mirror": mirror_state(room),
        "revealed": [
            {"lesson": r.lesson, "step": r.step, "round": r.round}
            for r in room.store.revealed_all()
        ],
        "limits": {"per_client": room.per_client, "joins_per_minute": room.limiter.per_minute},
        "refused": room.refused(),
    }


@router.post("/room/mirror", tags=["room"], responses=room_errors(400, 401, 404))
async def mirror(request: Request, body: MirrorRequest) -> RoomMirror:
    """Put a room lab on the projector (``lab``: null shows the join code), with names hidden
    or not, and the question whose counts it shows once revealed (null: the newest revealed).
    Kept in the room's file; the projector page reads it from GET /api/room."""
    require_instructor(request)
    question = (body.question.lesson, body.question.step) if body.question else None
    return set_mirror(room_of(request), body.lab, body.hide_names, question)


def _step_answer(room: Room, groups: dict[str, list[str]]) -> RoomStep:
    names = [n for who in groups.values() for n in who]
    outcomes = [same_everywhere(o) for o, who in groups.items() for _ in who]
    row = room.row
    return {
        "labs": len(names),
        "groups": grouped(names, outcomes),
        "frozen": row.frozen,
        "lesson": row.lesson,
        "follow_step": row.follow_step,
    }


@router.post("/room/lesson", tags=["room"], responses=room_errors(401, 404))
async def push_lesson(request: Request, body: PushRequest) -> RoomStep:
    """Start the lesson in every room lab (each cleared by the lesson's own reset); with
    ``follow`` the room then moves only when the instructor calls POST /api/room/next."""
    require_instructor(request)
    room = room_of(request)
    lesson_or_404(body.lesson)
    room.store.push(body.lesson, body.follow)
    room.reload()
    pairs = room.labs()
    outcomes = await asyncio.gather(*(_start(room, lab, body.lesson) for _, lab in pairs))
    groups: dict[str, list[str]] = {}
    for (participant, _), outcome in zip(pairs, outcomes, strict=True):
        groups.setdefault(outcome, []).append(participant.name)
    return _step_answer(room, groups)


@router.post("/room/next", tags=["room"], responses=room_errors(401, 409))
async def follow_next(request: Request) -> RoomStep:
    """Follow mode: the instructor's step advances by one, and every lab runs its pushed
    lesson up to it (a lab already there, or past it, is left alone)."""
    require_instructor(request)
    room = room_of(request)
    row = room.row
    if row.lesson is None or not row.follow:
        raise Conflict(None, 'push a lesson with "follow": true first')
    lesson = lesson_or_404(row.lesson)
    if row.follow_step >= len(lesson.steps):
        raise Conflict(None, "the lesson is over: every step has run")
    target = row.follow_step + 1
    room.store.set_follow_step(target)
    if target < len(lesson.steps) and lesson.steps[target].predict is not None:
        votes_open = room.store.rounds(lesson.id, target)
        if not votes_open:
            room.store.open_round(lesson.id, target, 1, time.time())
    room.reload()
    pairs = room.labs()
    outcomes = await asyncio.gather(*(_advance(room, lab, lesson.id, target) for _, lab in pairs))
    groups: dict[str, list[str]] = {}
    for (participant, _), outcome in zip(pairs, outcomes, strict=True):
        groups.setdefault(outcome, []).append(participant.name)
    return _step_answer(room, groups)


async def _advance(room: Room, lab: Lab, lesson_id: str, target: int) -> str:
    async with lab_lock(lab):
        run = run_of(lab)
        if run is None or run.lesson.id != lesson_id:
            run = await started(lab, lesson_or_404(lesson_id))
        try:
            while run.position < target and not run.finished:
                await run.next()
        except CommandError as exc:
            return f"stopped: {exc.message}"
    if run.failed is not None:  # it stopped before: say where, not "finished"
        return f"stopped at {run.failed}"
    return "finished" if run.finished else f"at step {run.position}"


@router.post("/room/freeze", tags=["room"], responses=room_errors(401))
async def freeze(request: Request, body: FreezeRequest) -> RoomStep:
    """Pause (frozen: true) or resume every room lab's select() loop. While frozen the server
    refuses participants' commands (423) and lesson steps; the instructor's pass."""
    require_instructor(request)
    room = room_of(request)
    return _step_answer(room, await room.freeze(body.frozen))


@router.post("/room/step", tags=["room"], responses=room_errors(401, 409))
async def step(request: Request) -> RoomStep:
    """One select() turn in every lab of the frozen room."""
    require_instructor(request)
    room = room_of(request)
    if not room.frozen:
        raise Conflict(None, "the room is not frozen: freeze it first, then step")
    return _step_answer(room, await room.step())


def _run_body() -> dict[str, Any]:
    """RunRequest's schema, its commands referring to the components the lab's command route
    files (api/app.py adds them once; FastAPI would file a second copy of each)."""
    schema = RunRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    missing = set(schema.pop("$defs", {})) - set(COMMAND_COMPONENTS)
    assert not missing, f"RunRequest refers to schemas the app does not file: {missing}"
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


@router.post("/room/run", tags=["room"], responses=room_errors(401), openapi_extra=_run_body())
async def run(request: Request, raw: Annotated[Any, Body()]) -> RoomRun:
    """Run the commands in every room lab at once; each command's outcomes grouped. A bad
    command is refused (400) before any lab runs any of them."""
    require_instructor(request)
    try:
        body = RunRequest.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    pairs = room_of(request).labs()
    return {"labs": len(pairs), "results": await run_everywhere(pairs, body.commands)}


@router.post("/room/limits", tags=["room"], responses=room_errors(401))
async def limits(request: Request, body: LimitsRequest) -> RoomLimits:
    """Raise (or lower) how many participants one address may hold, and its joins a minute
    (a room behind one NAT address needs more)."""
    require_instructor(request)
    room = room_of(request)
    room.set_limits(body.per_client, body.joins_per_minute)
    return {"per_client": room.per_client, "joins_per_minute": room.limiter.per_minute}


# -- votes ---------------------------------------------------------------------------------


@router.post(
    "/labs/{lab_id}/answers", tags=["room"], responses=room_errors(400, 401, 403, 404, 409)
)
async def answer(request: Request, lab_id: str, body: AnswerRequest) -> AnswerTaken:
    """The lab's participant answers a question: ``step`` and ``choice`` index
    GET /api/lessons/{lesson}'s steps and that step's choices. It may change its answer until
    the instructor reveals the question; from then on 409."""
    lab = lab_or_404(request, lab_id)
    participant = caller_of(request).participant
    if participant is None or lab.extras.get(OWNER) != participant.id:
        raise ForbiddenError(None, "only the lab's participant answers for it")
    store = room_of(request).store
    number = votes.take_answer(store, participant, body.lesson, body.step, body.choice)
    return {"lesson": body.lesson, "step": body.step, "round": number, "choice": body.choice}


@router.get("/labs/{lab_id}/answers", tags=["room"], responses=room_errors(400, 401, 403, 404))
async def lab_answers(
    request: Request,
    lab_id: str,
    lesson: Annotated[str, Query(max_length=100)],
    step: Annotated[int, Query(ge=0, le=1000)],
) -> LabAnswers:
    """The lab participant's answers to one question, and the room's counts once revealed
    (its observers see them too)."""
    lab = lab_or_404(request, lab_id)
    room = room_of(request)
    participant = room.store.participant(str(lab.extras.get(OWNER, "")))
    if participant is None:
        raise ForbiddenError(None, "this lab is not a room participant's: it has no answers")
    rounds = votes.own_rounds(room.store, participant, lesson, step)
    return {"lesson": lesson, "step": step, "rounds": rounds}


@router.get("/room/answers", tags=["room"], responses=room_errors(400, 401, 404))
async def room_answers(
    request: Request,
    lesson: Annotated[str, Query(max_length=100)],
    step: Annotated[int, Query(ge=0, le=1000)],
    round: Annotated[int | None, Query(ge=1, le=2)] = None,
) -> RoomAnswers:
    """How many answered, and the distribution (instructor; before the reveal too)."""
    require_instructor(request)
    return votes.summary(room_of(request).store, lesson, step, round)


@router.get("/room/kernels", tags=["room"], responses=room_errors(400, 401, 404))
async def room_kernels(
    request: Request,
    lesson: Annotated[str, Query(max_length=100)],
    step: Annotated[int, Query(ge=0, le=1000)],
) -> RoomKernels:
    """What each lab's kernel said at the question's step, grouped (descriptors and ports
    masked), each group with what its participants predicted (instructor; the projector
    shows it once the question is revealed)."""
    require_instructor(request)
    room = room_of(request)
    said: list[tuple[Participant, str | None]] = []
    for participant, lab in room.labs():
        run = run_of(lab)
        here = run.said.get(step) if run is not None and run.lesson.id == lesson else None
        said.append((participant, here))
    return kernels.compare(room.store, lesson, step, said)


@router.post("/room/reveal", tags=["room"], responses=room_errors(400, 401, 404))
async def reveal(request: Request, body: QuestionRequest) -> Revealed:
    """Lock the question's open round and show its counts to the room."""
    require_instructor(request)
    number = votes.reveal(room_of(request).store, body.lesson, body.step)
    return {"lesson": body.lesson, "step": body.step, "round": number, "revealed": True}


@router.post("/room/revote", tags=["room"], responses=room_errors(400, 401, 404, 409))
async def revote(request: Request, body: QuestionRequest) -> Revealed:
    """Open the question's second round (after the discussion); the first is closed."""
    require_instructor(request)
    number = votes.revote(room_of(request).store, body.lesson, body.step)
    return {"lesson": body.lesson, "step": body.step, "round": number, "revealed": False}


@router.get(
    "/room/export.csv",
    tags=["room"],
    response_class=Response,
    responses={
        200: {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
        **room_errors(401),
    },
)
async def export(request: Request) -> Response:
    """Every answer: participant, lesson, question, first and second answer, right, seconds."""
    require_instructor(request)
    text = votes.export_csv(room_of(request).store)
    headers = {"Content-Disposition": 'attachment; filename="sockscope-answers.csv"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


# -- observers -----------------------------------------------------------------------------


@router.post("/room/observers", tags=["room"], responses=room_errors(401, 403, 404))
async def observer(request: Request, body: ObserverRequest) -> ObserverLink:
    """A read-only link to a room lab (the instructor's or the lab's participant's to make)."""
    lab = lab_or_404(request, body.lab)
    authorize(request, lab, write=True)  # its participant or the instructor; not an observer
    room = room_of(request)
    owner = room.store.participant(str(lab.extras.get(OWNER, "")))
    if owner is None:
        raise ForbiddenError("lab", "only a room participant's lab has observer links")
    token = room.new_observer(owner)
    return {"url": f"/labs/{lab.id}?observe={token}", "token": token, "lab": lab.id}
