"""The room: one instructor, the participants and their labs, freeze, observers.

Theory of operation. The room's state lives in SQLite (:mod:`.store`); this object holds
what only makes sense while the process runs: the instructor's token, the join limiter,
and the map from a participant to its lab, which is the registry's (a lab carries its
owner in ``Lab.extras["owner"]``). A participant whose lab is gone (the server restarted,
or the reaper closed it) gets a new, empty one on its next request, with a notice in it
saying why, and ``recreated`` in its answers while that lab lives.

Everything here runs on the event loop; labs are reached only through the registry and
:mod:`sockscope.labs.bridge`, never by touching an engine's state from here.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

from sockscope.contract.room import JoinRefusal
from sockscope.engine.core.errors import CommandError, ForbiddenError, LabClosed, RateLimited
from sockscope.events import NoticeEvent
from sockscope.labs.bridge import run_command
from sockscope.labs.registry import Lab, LabRegistry
from sockscope.room import joins
from sockscope.room.store import Participant, RoomRow, RoomStore

log = logging.getLogger(__name__)

OWNER = "owner"  # Lab.extras key: the participant id of a room lab
RECREATED = "recreated"  # Lab.extras key: made again after its participant's lab was lost
PER_CLIENT = 3  # participants one client address may hold
JOINS_PER_MINUTE = 10
LOOP_WAIT = 5.0  # how long a pause/resume/step waits for each lab


class Unauthorized(CommandError):
    status = 401


class Locked(CommandError):
    status = 423


FROZEN = "the instructor froze the room: wait for them to resume"


@dataclass(frozen=True, slots=True)
class Joining:
    participant: Participant
    token: str | None  # None: an existing participant came back (its token is not kept)
    lab: Lab
    recreated: bool


class Room:
    def __init__(
        self,
        store: RoomStore,
        registry: LabRegistry,
        *,
        instructor_token: str | None = None,
        per_client: int = PER_CLIENT,
        joins_per_minute: int = JOINS_PER_MINUTE,
    ) -> None:
        self.store = store
        self.registry = registry
        self.instructor_token = instructor_token or secrets.token_urlsafe(24)
        self.per_client = per_client
        self.limiter = joins.JoinLimiter(joins_per_minute)
        self.refusals = joins.Refusals()
        self._row = store.room(joins.new_code())
        self._making: dict[str, asyncio.Lock] = {}

    # -- state -----------------------------------------------------------------------------

    @property
    def row(self) -> RoomRow:
        return self._row

    @property
    def code(self) -> str:
        return self._row.code

    @property
    def frozen(self) -> bool:
        return self._row.frozen

    def reload(self) -> RoomRow:
        self._row = self.store.room(self._row.code)
        return self._row

    def is_instructor(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(
            token.encode(), self.instructor_token.encode()
        )

    # -- participants ----------------------------------------------------------------------

    async def join(self, code: str, name: str, client: str, known: Participant | None) -> Joining:
        """Raises RateLimited, ForbiddenError (a wrong code), or TooManyLabs from the registry."""
        now = time.monotonic()
        wait = self.limiter.wait_for(client, now)
        if wait > 0:
            self.refusals.note(client, "per_minute", now)
            raise RateLimited(
                None,
                f"too many join attempts from this address: {self.limiter.per_minute} a minute;"
                f" try again in {wait:.0f} s",
            )
        if not joins.code_matches(code, self.code):
            raise ForbiddenError("code", "wrong join code: check the code on the projector")
        if known is not None:  # the same browser again: the same participant and lab
            lab, recreated = await self.lab_of(known)
            return Joining(known, None, lab, recreated)
        if self.store.count_from(client) >= self.per_client:
            self.refusals.note(client, "per_client", now)
            raise RateLimited(
                None,
                f"this address already holds {self.per_client} participants, the limit per"
                " client; a reload returns to yours (the instructor can raise the limit)",
            )
        taken = self.store.names()
        display = joins.free_name(joins.clean_name(name), taken, len(taken) + 1)
        token = secrets.token_urlsafe(24)
        participant = self.store.add_participant(secrets.token_urlsafe(9), display, token, client)
        lab, _ = await self.lab_of(participant)
        return Joining(participant, token, lab, False)

    def set_limits(self, per_client: int, joins_per_minute: int) -> None:
        self.per_client = per_client
        self.limiter.per_minute = joins_per_minute
        self.refusals.forget()

    def refused(self) -> list[JoinRefusal]:
        return [
            {
                "address": address,
                "refused": count,
                "participants": self.store.count_from(address),
                "why": "per_client" if why == "per_client" else "per_minute",
                "seconds_ago": round(ago, 1),
            }
            for address, count, why, ago in self.refusals.recent(time.monotonic())
        ]

    def participant(self, token: str | None) -> Participant | None:
        return None if not token else self.store.participant_by_token(token)

    def lab_now(self, participant: Participant) -> Lab | None:
        """The participant's lab if it still runs (nothing is made here)."""
        if participant.lab is None:
            return None
        lab = self.registry.get(participant.lab)
        return None if lab is None or lab.engine.closed.is_set() else lab

    async def lab_of(self, participant: Participant) -> tuple[Lab, bool]:
        """The participant's lab, made (empty) when it has none or lost it; True if remade."""
        lock = self._making.setdefault(participant.id, asyncio.Lock())
        async with lock:  # two tabs reloading at once get one lab, not two
            fresh = self.store.participant(participant.id) or participant
            lab = self.lab_now(fresh)
            if lab is not None:
                return lab, bool(lab.extras.get(RECREATED))
            lab = await asyncio.to_thread(self.registry.create)
            lab.extras[OWNER] = participant.id
            self.store.set_lab(participant.id, lab.id)
            recreated = fresh.lab is not None
            if recreated:
                lab.extras[RECREATED] = True
                lab.engine.record(
                    NoticeEvent,
                    socket=None,
                    message="Your lab was made again, empty: the server restarted or closed the"
                    " old one. Your answers are kept.",
                )
            if self.frozen:
                await self.loop_op(lab, "pause")
            return lab, recreated

    def labs(self) -> list[tuple[Participant, Lab]]:
        """Every participant whose lab runs, with it, in joining order."""
        found = []
        for participant in self.store.participants():
            lab = self.lab_now(participant)
            if lab is not None:
                found.append((participant, lab))
        return found

    # -- freeze ----------------------------------------------------------------------------

    async def freeze(self, frozen: bool) -> dict[str, list[str]]:
        """Pause (or resume) every room lab's select() loop; outcomes grouped by name lists."""
        self.store.set_frozen(frozen)
        self.reload()
        return await self.each_loop("pause" if frozen else "resume")

    async def step(self) -> dict[str, list[str]]:
        """One select() turn in every (frozen) lab."""
        return await self.each_loop("step")

    async def each_loop(self, op: str) -> dict[str, list[str]]:
        pairs = self.labs()
        outcomes = await asyncio.gather(*(self.loop_op(lab, op) for _, lab in pairs))
        grouped: dict[str, list[str]] = {}
        for (participant, _), outcome in zip(pairs, outcomes, strict=True):
            grouped.setdefault(outcome, []).append(participant.name)
        return grouped

    async def loop_op(self, lab: Lab, op: str) -> str:
        try:
            answer = await run_command(lab, {"op": op}, LOOP_WAIT, limited=False)
        except LabClosed:
            return "the lab closed"
        except CommandError as exc:
            return exc.message
        if not answer.ok:
            return str((answer.error or {}).get("message", "failed"))
        return {"pause": "paused", "resume": "running", "step": "stepped"}[op]

    def refuse_if_frozen(self, lab: Lab, instructor: bool) -> None:
        """Raises Locked for a participant's command to a room lab while the room is frozen."""
        if self.frozen and not instructor and OWNER in lab.extras:
            raise Locked(None, FROZEN)

    # -- help and observers ----------------------------------------------------------------

    def set_help(self, participant: Participant, on: bool) -> bool:
        self.store.set_help(participant.id, on)
        return on

    def new_observer(self, participant: Participant) -> str:
        token = secrets.token_urlsafe(24)
        self.store.add_observer(token, participant.id)
        return token

    def observed(self, token: str | None) -> str | None:
        """The participant id an observer token watches."""
        return None if not token else self.store.observed_by(token)
