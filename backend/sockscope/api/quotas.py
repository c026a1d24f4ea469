"""Limits per client address that a room never meets and one abusive client always does.

Measured before these existed: one client took all 60 labs in 0.2 s with ``POST /api/labs``,
and 24 concurrent ``POST /api/workbench/shapes`` used 14.9 CPU-seconds and 152 processes and
held ``POST /api/labs`` up for 30 s. Room labs have their own limits (participants per
address, joins a minute: room/joins.py); these guard the open routes. Every refusal says which
limit, and the numbers are settings (``SOCKSCOPE_LABS_PER_CLIENT``, ...).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sockscope.engine.core.errors import CommandError, RateLimited
from sockscope.labs.registry import Lab, LabRegistry
from sockscope.room.joins import JoinLimiter

CLIENT = "client"  # Lab.extras key: the address that made an open lab (POST /api/labs)
SHAPES_WAIT = 5.0  # seconds a comparison waits for a free slot before 503


class Busy(CommandError):
    status = 503


class LabQuota:
    """Open labs per client address: at most ``held`` at once, ``per_minute`` made a minute."""

    def __init__(self, held: int, per_minute: int) -> None:
        self.held = held
        self.rate = JoinLimiter(per_minute)

    def admit(self, registry: LabRegistry, client: str) -> None:
        """Raises RateLimited naming the limit; an admitted creation is counted."""
        holding = registry.count(lambda lab: lab.extras.get(CLIENT) == client)
        if holding >= self.held:
            raise RateLimited(
                None,
                f"this address already holds {self.held} labs, the limit per client: close one"
                " (DELETE /api/labs/{id}), or let an idle one be reaped",
            )
        wait = self.rate.wait_for(client, time.monotonic())
        if wait > 0:
            raise RateLimited(
                None,
                f"this address made {self.rate.per_minute} labs in the last minute, the limit;"
                f" try again in {wait:.0f} s",
            )

    @staticmethod
    def mark(lab: Lab, client: str) -> None:
        lab.extras[CLIENT] = client


class ShapesGate:
    """Server-shape comparisons (threads, processes, a select() loop each time): at most
    ``at_once`` in the server, one per client address; a request waits SHAPES_WAIT for a slot."""

    def __init__(self, at_once: int, wait: float = SHAPES_WAIT) -> None:
        self.at_once = at_once
        self.wait = wait
        self._slots = asyncio.Semaphore(at_once)
        self._running: set[str] = set()

    @asynccontextmanager
    async def slot(self, client: str) -> AsyncIterator[None]:
        if client in self._running:
            raise RateLimited(
                None, "this address already runs a server-shape comparison: wait for its answer"
            )
        self._running.add(client)
        try:
            try:
                await asyncio.wait_for(self._slots.acquire(), self.wait)
            except TimeoutError:
                raise Busy(
                    None,
                    f"the workbench is busy: {self.at_once} server-shape comparisons are running"
                    f" (the server's limit); try again in a few seconds",
                ) from None
            try:
                yield
            finally:
                self._slots.release()
        finally:
            self._running.discard(client)
