"""What the handlers, the relay and the recorders need of a lab: :class:`LabContext`.

:class:`sockscope.engine.lab.LabEngine` is the one implementation; everything below
it sees only this, so nothing below the lab imports the lab. All of it is used on
the lab thread, but for :meth:`LabContext.post`, which any thread may call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from sockscope.engine.core.policy import LabPolicy
from sockscope.engine.packed import Strings
from sockscope.engine.privnet import PrivateNetwork
from sockscope.engine.sockets import LabSocket, Link
from sockscope.engine.tickets import Kept, Ticket
from sockscope.events import Event


class LabContext(Protocol):
    id: str
    policy: LabPolicy
    sockets: dict[str, LabSocket]
    links: dict[str, Link]
    private: PrivateNetwork | None  # the lab's own network namespace, made on first use
    paused: bool
    ticket: Ticket | None  # the command being run: its events are collected on it
    t0: int  # monotonic ns of the lab's start: event times count from it
    dirty: set[str]  # sockets touched since their last probe
    worker_calls: set[int]  # call ids running on a worker thread
    workers: set[threading.Thread]
    # Every command the lab ran, in order, with the events it produced (the events list
    # grows until its call returns): what an exported script replays.
    history: list[Kept]
    history_truncated: bool  # older commands were dropped

    def post(self, fn: Callable[[], None]) -> None: ...

    def now_ns(self) -> int: ...

    def emit(self, cls: type[Any], **fields: Any) -> Event: ...

    def emit_packed(self, record: bytes) -> None: ...

    @property
    def strings(self) -> Strings: ...

    def emit_notice(self, socket_name: str | None, message: str) -> None: ...

    def new_call_id(self) -> int: ...

    def sync(self, ls: LabSocket) -> None: ...

    def local_peer(self, ls: LabSocket) -> LabSocket | None: ...

    def add_socket(self, ls: LabSocket) -> None: ...

    def remove_socket(self, ls: LabSocket) -> None: ...

    def free_name(self, base: str) -> str: ...

    def in_flight(self) -> int: ...

    def add_step(self, ticket: Ticket) -> None: ...
