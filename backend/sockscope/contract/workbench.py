"""What the workbenches answer (``api/workbench.py``) and measure for a lesson's step.

``workbench/`` and ``api/workbench.py`` build these, so this module may use only the standard
library and typing_extensions, like :mod:`.lab`: the workbench imports it and nothing else of
the contract. A lesson's steps show the same readings (:class:`.lessons.LessonStepData`).
"""

from __future__ import annotations

from typing import Literal

from typing_extensions import TypedDict

Order = Literal["big", "little"]
StrategyName = Literal["fixed", "delimited", "text_prefix", "binary_prefix", "shutdown"]
Shape = Literal["thread", "process", "select"]
Channel = Literal["tcp", "unix", "pipe"]
MAX_CLIENTS = 32  # slow clients one server-shapes run may serve


class NetworkEquivalents(TypedDict):
    """What the socket module's ``hton*``/``ntoh*`` make of a value on this host."""

    value: int
    htons: int | None  # null when the value does not fit 16 bits
    ntohs: int | None
    htonl: int
    ntohl: int
    host_order: Order
    host_little_endian: bool  # the functions swap bytes only here


class TextVsBinary(TypedDict):
    """A value's size sent as decimal text against packed with a struct format."""

    value: int
    text: str  # sent as str(value).encode(): no terminator, unlike the HOWTO's C string
    text_bytes: int
    binary_hex: str
    binary_fmt: str
    binary_bytes: int
    smaller: Literal["text", "binary", "same"]


class ByteOrderReading(TypedDict):
    """An integer's bytes on the wire, read back with its format and with the opposite order.

    A lesson's byte-order step sends it through a real connection: ``wire`` is what arrived.
    """

    value: int
    fmt: str
    wire: str  # hex pairs: "00 00 00 01"
    right: int  # read with ``fmt``
    wrong: int  # read with ``opposite_fmt``
    opposite_fmt: str
    host_order: Order
    network: NetworkEquivalents | None  # null when the value does not fit 32 bits
    text_vs_binary: TextVsBinary


class ByteOrderAnswer(ByteOrderReading):
    """GET /api/workbench/byteorder: the bytes ``struct.pack(fmt, value)`` makes, read both ways."""

    meaning: str  # what the format's prefix means ("network order (big-endian)")


class FramingReading(TypedDict):
    """Messages framed, cut as recv() returned them, and read naively and properly.

    Texts are the bytes decoded as UTF-8 (a cut inside a character shows as U+FFFD).
    """

    messages: list[str]  # as framed (a fixed length pads them)
    chunks: list[str]  # what each recv() returned
    naive: list[str]  # one recv() taken for one message
    framed: list[str]  # what the framing decoder made of the chunks
    naive_ok: bool  # each recv() returned exactly one framed message
    framed_ok: bool  # the decoder gave back the messages


class FramingAnswer(FramingReading):
    """POST /api/workbench/framing: the stream, its cuts, and a verdict on each reader."""

    stream: str
    stream_hex: str
    wire: list[str]  # each message framed, as it goes on the wire
    naive_verdict: str
    framed_verdict: str


class ShapeReport(TypedDict):
    """One server shape serving slow clients (POST /api/workbench/shapes, a lesson's step)."""

    shape: Shape
    label: str
    clients: int
    served: int  # clients that got the right reply
    seconds: float  # from the first connect to the last reply
    peak_workers: int  # threads or processes alive at once (the select loop: 1)
    peak_blocked: int  # workers blocked in recv() at once
    samples: list[tuple[float, int, int]]  # (seconds, workers, blocked)


class IpcReport(TypedDict):
    """One local channel's throughput (a lesson's IPC step)."""

    channel: Channel
    bytes: int  # moved by each run
    runs_s: list[float]  # each run's time from the first write to the last byte read
    median_mb_s: float  # MB/s, 10**6 bytes
    syscalls: int  # write and read calls of one run (the median over the runs)


class FdAnswer(TypedDict):
    """What select(), poll() and epoll said of one descriptor with a byte waiting."""

    fd: int
    select: str  # "readable", or the error select() raised
    poll: str
    epoll: str


class FdLimitReport(TypedDict):
    """An fdlimit step: a low and a high descriptor asked about, in a child process."""

    at_least: int  # the high descriptor is numbered at least this
    opened: int  # sockets the child held at the end
    low: FdAnswer
    high: FdAnswer
