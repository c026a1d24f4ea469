"""What the room's routes answer (``api/room.py``; the state is kept in ``room/``).

Standard library and typing_extensions only, like :mod:`.api`.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from typing_extensions import TypedDict

from sockscope.events import JSONValue

# Why the instructor might look at a lab (room/flags.py has the thresholds).
RoomFlag: TypeAlias = Literal["blocked", "repeating", "busy_loop", "idle", "help"]


class SocketGlance(TypedDict):
    """One socket of a lab, in small: its name and TCP state as last probed."""

    name: str
    state: str  # ESTABLISHED, LISTEN, CLOSE_WAIT, ...; NEW before its first probe


class RoomParticipant(TypedDict):
    """One participant in the instructor's grid."""

    id: str
    name: str
    lab: str | None  # null until the participant's lab is made again after a restart
    lesson: str | None  # the lesson under way in the lab
    step: int | None  # the index of its next step
    last_call: str | None  # the lab's last call as the UI prints it: "cli.send(...) -> 6144"
    sockets: list[SocketGlance]  # the lab's sockets, in the order it made them
    flags: list[RoomFlag]


class Question(TypedDict):
    """A lesson step with a prediction."""

    lesson: str
    step: int


class RoomMirror(TypedDict):
    """POST /api/room/mirror, and RoomState's ``mirror``: what the projector shows."""

    lab: str | None  # the mirrored lab while it runs; null: the join code and QR
    participant: str | None  # whose lab it is (kept across a restart, when the lab is not)
    name: str | None
    hide_names: bool  # the projector shows no participant's name
    question: Question | None  # whose counts to show once revealed; null: the newest revealed


class RevealedQuestion(TypedDict):
    lesson: str
    step: int
    round: int


class RoomState(TypedDict):
    """GET /api/room (instructor; the projector page polls it too)."""

    code: str
    participants: list[RoomParticipant]
    lesson: str | None  # the lesson pushed to the room
    frozen: bool
    follow: bool  # the room follows the instructor's step (POST /api/room/next)
    follow_step: int  # how many of the pushed lesson's steps the instructor has run
    mirror: RoomMirror
    revealed: list[RevealedQuestion]  # every question revealed so far, the newest last
    limits: RoomLimits
    refused: list[JoinRefusal]  # joins the limits refused lately, by address: raise them?


class Joined(TypedDict):
    """POST /api/room/join: the participant, its lab, and the token that drives it."""

    participant: str
    name: str
    lab: str
    token: str  # also set as the HttpOnly cookie sockscope_participant
    recreated: bool  # the lab was made again (empty): the server restarted or reaped it
    lesson: str | None
    frozen: bool


class Me(TypedDict):
    """GET /api/room/me: where the participant stands in the room."""

    participant: str
    name: str
    lab: str
    recreated: bool
    lesson: str | None  # pushed by the instructor
    pushed_by: Literal["instructor"] | None
    frozen: bool
    follow: bool
    follow_step: int
    help: bool
    revealed: list[RevealedQuestion]  # of the pushed lesson: their counts can be fetched


class WhoAmI(TypedDict):
    """GET /api/room/whoami: the caller's roles in the room, always 200 (a page cannot read
    its HttpOnly cookies, so it asks; a learner alone gets all false and null)."""

    instructor: bool
    participant: str | None
    name: str | None
    lab: str | None  # the participant's lab, while it runs
    observes: str | None  # the lab an observer token (?observe= or Bearer) watches, while it runs


class JoinInfo(TypedDict):
    """GET /api/room/join-info (instructor): what the projector shows while nobody is mirrored."""

    code: str
    url: str  # the join URL as the request reached this server
    urls: list[str]  # one per address this machine is known by (its LAN addresses)


class RoomAnswers(TypedDict):
    """GET /api/room/answers (instructor): how the room answered one question, in one round."""

    lesson: str
    step: int
    round: int
    rounds: int  # rounds opened for the question (2 after a revote)
    answered: int
    participants: int
    counts: list[int]  # per choice
    revealed: bool
    answer: int  # the right choice


class AnswerTaken(TypedDict):
    """POST /api/labs/{lab}/answers: the answer as recorded (it may change until the reveal)."""

    lesson: str
    step: int
    round: int
    choice: int


class AnswerRound(TypedDict):
    round: int
    choice: int | None  # the participant's answer (null: none)
    revealed: bool
    counts: list[int] | None  # the room's, once revealed
    answer: int | None  # the right choice, once revealed


class LabAnswers(TypedDict):
    """GET /api/labs/{lab}/answers: the lab's participant's answers to one question."""

    lesson: str
    step: int
    rounds: list[AnswerRound]


class Revealed(TypedDict):
    """POST /api/room/reveal and /api/room/revote: the question's round now."""

    lesson: str
    step: int
    round: int
    revealed: bool


class OutcomeGroup(TypedDict):
    """Labs whose command came out the same way (e.g. "returned 6144" in 41 labs)."""

    outcome: str
    labs: int
    participants: list[str]  # names


class CommandOutcomes(TypedDict):
    command: JSONValue
    groups: list[OutcomeGroup]  # the largest first


class RoomRun(TypedDict):
    """POST /api/room/run: each command's outcomes across the room's labs, grouped."""

    labs: int
    results: list[CommandOutcomes]


class RoomStep(TypedDict):
    """POST /api/room/step, /api/room/freeze, /api/room/lesson and /api/room/next."""

    labs: int  # labs the action reached
    groups: list[OutcomeGroup]
    frozen: bool
    lesson: str | None
    follow_step: int


class ObserverLink(TypedDict):
    """POST /api/room/observers: a read-only link to one participant's lab."""

    url: str  # the lab page with ?observe=TOKEN
    token: str  # for scripts: Authorization: Bearer TOKEN, GET only
    lab: str


class HelpState(TypedDict):
    help: bool


class RoomLimits(TypedDict):
    """POST /api/room/limits (instructor): participants per client address, joins a minute."""

    per_client: int
    joins_per_minute: int


class JoinRefusal(TypedDict):
    """Joins from one address the limits refused in the last JoinLimiter window x 10.

    Many from one address usually mean the room shares it (a NAT, or Docker Desktop, whose
    port forwarding shows every participant as one address): the instructor raises the limits.
    """

    address: str
    refused: int
    participants: int  # participants that address holds now
    why: Literal["per_client", "per_minute"]  # the newest refusal's limit
    seconds_ago: float  # since the newest refusal


class KernelGroup(TypedDict):
    """Labs whose kernel said the same at a question's step, with what their people predicted."""

    outcome: str  # the step's line and result ("cli.send(...)  ->  2621440"), or NOT_RUN
    ran: bool  # false: the step has not run in these labs yet
    labs: int
    participants: list[str]  # names
    choices: list[int]  # how many of them picked each choice (the newest round)
    unanswered: int


class RoomKernels(TypedDict):
    """GET /api/room/kernels (instructor): the room's predictions next to what each lab's
    kernel did at the question's step (the numbers differ from lab to lab: that is the lesson)."""

    lesson: str
    step: int
    round: int  # whose answers are counted: the question's newest round
    answer: int  # the right choice
    labs: int
    ran: int  # labs where the step has run
    groups: list[KernelGroup]  # those that ran first, the largest first
