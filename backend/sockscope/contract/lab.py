"""What a lab reports besides its events: its snapshot, its links, its network, an error.

The engine builds these as dicts (``LabEngine._snapshot``, ``LabSocket.wire``,
``Link.public``); this module may use only the standard library, typing_extensions
(pydantic reads TypedDicts from it on Python 3.11) and :mod:`sockscope.events`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NotRequired

from typing_extensions import TypedDict

from sockscope.events import Address, Figures, SocketInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockedCallInfo:
    """A call that went to a worker thread and has not returned yet."""

    call_id: int
    op: str
    line: str
    since_ns: int


# A dataclass, not a TypedDict, because it extends SocketInfo: its fields stay defined once.
@dataclass(frozen=True, slots=True, kw_only=True)
class SocketSnapshot(SocketInfo):
    """A socket as a snapshot lists it: its description, the kernel's figures, its blocked calls."""

    figures: Figures | None
    blocked: list[BlockedCallInfo]


class FlowState(TypedDict):
    """One direction of a fault-injecting link: its faults, and the bytes it holds and moved."""

    latency_ms: float
    rate: int  # bytes a second; 0: as fast as the kernel takes them
    slice: int  # largest send(); 0: as much as is held
    jitter: int
    stalled: bool
    closing: bool  # ends this direction (FIN) once its queue is empty
    held: int
    moved: int


class LinkState(TypedDict):
    """A fault-injecting link: its listening end, its target, its two sockets and flows.

    ``a`` is the leg the client connected to, ``b`` the leg to the target; ``up`` carries
    the bytes from ``a`` to ``b``, ``down`` the bytes back.
    """

    name: str
    listen: Address
    target: Address
    a: str | None
    b: str | None
    dead: bool
    up: FlowState
    down: FlowState


class NetworkState(TypedDict):
    """The lab's private network: whether its cable is in, and how the lab made it."""

    plugged: bool
    how: str


class CaptureState(TypedDict):
    """The lab's wire lane: whether it captures, why not, and its counts (CaptureEvent's)."""

    state: Literal["on", "unavailable", "off"]
    reason: str | None
    frames: int
    kept: int
    dropped_kept: int
    dropped_kernel: int
    cut: int


class LabSnapshot(TypedDict):
    """The lab as it stands at ``seq``: every socket with its figures, links, network."""

    id: str
    schema_version: int
    seq: int
    t_ns: int
    started_at: float  # time.time() when the lab started
    paused: bool
    iteration: int
    sockets: list[SocketSnapshot]
    port_range: tuple[int, int]
    links: list[LinkState]
    network: NetworkState | None
    capture: CaptureState


class ErrorDetail(TypedDict):
    """Why a command failed: a failed call's errno, or the field a refused command got wrong."""

    errno: str | None  # EAGAIN, ECONNREFUSED, ...; null for a refusal
    field: NotRequired[str | None]  # a refusal's field (null: the command as a whole)
    message: str
