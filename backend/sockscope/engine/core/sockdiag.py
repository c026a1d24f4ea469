"""NETLINK_SOCK_DIAG, the kernel's table of sockets as ``ss`` reads it: requests and replies (pure).

:mod:`sockscope.engine.sockdiag` owns the netlink socket; this module only builds the
bytes it sends and parses the bytes it gets back. The closed-connection watch asks for
exact 4-tuples (one request per connection, many requests in one datagram); a dump
filtered in the kernel by port range is here too, because the bench measures it against
the exact lookups (bench/watch.py).

Wire format (include/uapi/linux/netlink.h, sock_diag.h, inet_diag.h). Integers are in
the host's byte order, except ports and addresses, which are in network order (``be``).
Every message starts on a 4-byte boundary (NLMSG_ALIGN)::

    struct nlmsghdr            16 bytes  "=IHHII"
        u32 nlmsg_len          the whole message, header included
        u16 nlmsg_type         SOCK_DIAG_BY_FAMILY (20) both ways; NLMSG_ERROR (2),
                               NLMSG_DONE (3) from the kernel
        u16 nlmsg_flags        NLM_F_REQUEST (1) on requests, | NLM_F_DUMP (0x300) for a
                               dump; NLM_F_MULTI (2) on every part of a dump's reply
        u32 nlmsg_seq          echoed in the reply: how replies are matched to requests
        u32 nlmsg_pid          0 (the kernel)

    struct inet_diag_sockid    48 bytes
        be16 idiag_sport, be16 idiag_dport
        be32 idiag_src[4], be32 idiag_dst[4]   IPv4: the first word, the rest zero;
                                               IPv6: all four
        u32  idiag_if                          0: any interface
        u32  idiag_cookie[2]                   INET_DIAG_NOCOOKIE (~0, ~0): no cookie

    request: nlmsghdr + struct inet_diag_req_v2   56 bytes  "=BBBxI" + sockid
        u8 sdiag_family (AF_INET or AF_INET6), u8 sdiag_protocol (IPPROTO_TCP), u8 idiag_ext (0:
        no extensions), u8 pad, u32 idiag_states (bit n: TCP state n; ignored by an
        exact lookup), inet_diag_sockid id (the connection, seen from its local end)
      a dump may carry attributes after it: struct nlattr (u16 nla_len, u16 nla_type)
      INET_DIAG_REQ_BYTECODE (1) holding a filter program, 4-byte ops
      struct inet_diag_bc_op {u8 code; u8 yes; u16 no}: the program runs from its
      start; each op jumps ``yes`` bytes forward when its test holds, ``no`` bytes
      when not; landing exactly on the end accepts the socket, past it rejects.
      INET_DIAG_BC_S_GE (2), S_LE (3), D_GE (4), D_LE (5) compare the local (S) or
      remote (D) port with the ``no`` field of the op that follows them; INET_DIAG_BC_JMP
      (1) always takes ``no``.

    reply: nlmsghdr + struct inet_diag_msg       72 bytes, then attributes (skipped)
        u8 idiag_family, u8 idiag_state (TCP state number; a TIME_WAIT socket reports its
        substate, so an orphaned FIN_WAIT2 reads FIN_WAIT2 as /proc/net/tcp does),
        u8 idiag_timer, u8 idiag_retrans, inet_diag_sockid id,
        u32 idiag_expires, u32 idiag_rqueue, u32 idiag_wqueue, u32 idiag_uid,
        u32 idiag_inode

    NLMSG_ERROR: nlmsghdr + i32 error (minus an errno; 0 is an acknowledgement) + the
        request's own nlmsghdr (and payload). An exact lookup of a connection the
        kernel does not have answers -ENOENT.
    NLMSG_DONE: nlmsghdr + i32 error, the end of a dump (0, or minus an errno: a kernel
        without a handler for the protocol says -ENOENT here).

A reply can hold several messages (a dump packs them), and a dump's reply spans as
many datagrams as it needs until NLMSG_DONE. An exact lookup answers with the
established socket of that 4-tuple, or, when there is none, the *listener* on its
local port: the caller compares the 4-tuple that came back with the one it asked for.
"""

from __future__ import annotations

import errno
import socket
import struct
from dataclasses import dataclass

from sockscope.engine.core.tcpinfo import TCP_STATES, state_name

Address = tuple[str, int]
Conn = tuple[Address, Address]  # (local, peer)

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
INET_DIAG_REQ_BYTECODE = 1
INET_DIAG_BC_JMP = 1
INET_DIAG_BC_S_GE = 2
INET_DIAG_BC_S_LE = 3
INET_DIAG_BC_D_GE = 4
INET_DIAG_BC_D_LE = 5
INET_DIAG_NOCOOKIE = 0xFFFFFFFF

ALL_STATES = sum(1 << n for n in TCP_STATES)
# What a closed socket's connection can be in: every state but LISTEN and CLOSE.
LINGERING_STATES = ALL_STATES & ~(1 << 10) & ~(1 << 7)

HEADER = struct.Struct("=IHHII")
# nlmsghdr + inet_diag_req_v2; ports go in as htons() of the port, so "=H" writes them
# in network order on any host.
_REQUEST = struct.Struct("=IHHII BBBxI HH16s16s III")
_MESSAGE = struct.Struct("=BBBB HH16s16s III IIIII")
_ERROR = struct.Struct("=i")
_ATTR = struct.Struct("=HH")
_OP = struct.Struct("=BBH")
REQUEST_SIZE = _REQUEST.size  # 72
_WIDTH = {socket.AF_INET: 4, socket.AF_INET6: 16}  # address bytes of each family


class DiagFormatError(ValueError):
    """Bytes that are not a well-formed netlink reply."""


@dataclass(frozen=True, slots=True)
class DiagSocket:
    """One socket the kernel reported (IPv4 or IPv6)."""

    seq: int
    state: str
    local: Address
    peer: Address
    multi: bool  # a part of a dump


@dataclass(frozen=True, slots=True)
class DiagError:
    """NLMSG_ERROR: the request with this sequence number failed (errno > 0), or was acked."""

    seq: int
    errno: int

    @property
    def not_found(self) -> bool:
        return self.errno == errno.ENOENT


@dataclass(frozen=True, slots=True)
class DiagDone:
    """NLMSG_DONE: the end of a dump; ``errno`` > 0 when the dump itself failed."""

    seq: int
    errno: int


Reply = DiagSocket | DiagError | DiagDone


def _align(n: int) -> int:
    return (n + 3) & ~3


def _pack(
    seq: int,
    flags: int,
    states: int,
    local: Address,
    peer: Address,
    extra: bytes = b"",
    protocol: int = socket.IPPROTO_TCP,
) -> bytes:
    family = socket.AF_INET6 if ":" in local[0] else socket.AF_INET
    head = _REQUEST.pack(
        _REQUEST.size + len(extra),
        SOCK_DIAG_BY_FAMILY,
        flags,
        seq,
        0,
        family,
        protocol,
        0,
        states,
        socket.htons(local[1]),
        socket.htons(peer[1]),
        socket.inet_pton(family, local[0]),
        socket.inet_pton(family, peer[0]),
        0,
        INET_DIAG_NOCOOKIE,
        INET_DIAG_NOCOOKIE,
    )
    return head + extra


def lookup_request(seq: int, conn: Conn) -> bytes:
    """An exact lookup of the TCP connection ``conn`` = (local, peer), IPv4 or IPv6 (an
    address with a colon)."""
    return _pack(seq, NLM_F_REQUEST, ALL_STATES, conn[0], conn[1])


def port_range_filter(low: int, high: int) -> bytes:
    """Bytecode accepting a socket whose local or remote port is in ``low..high``.

    (S_GE low and S_LE high) or (D_GE low and D_LE high), laid out as ``ss`` lays out
    an ``or``: the first pair's failures jump to the second, a JMP skips the second.
    """

    def op(code: int, yes: int, no: int) -> bytes:
        return _OP.pack(code, yes, no)

    # offsets: 0 S_GE, 4 low, 8 S_LE, 12 high, 16 JMP, 20 D_GE, 24 low, 28 D_LE, 32 high; 36 end
    return b"".join(
        (
            op(INET_DIAG_BC_S_GE, 8, 20),  # no: to the D pair at 20
            op(0, 0, low),
            op(INET_DIAG_BC_S_LE, 8, 12),  # no: 8 + 12 = 20
            op(0, 0, high),
            op(INET_DIAG_BC_JMP, 4, 20),  # 16 + 20 = 36: the end, accept
            op(INET_DIAG_BC_D_GE, 8, 20),  # no: 20 + 20 = 40, past the end: reject
            op(0, 0, low),
            op(INET_DIAG_BC_D_LE, 8, 12),  # no: 28 + 12 = 40: reject
            op(0, 0, high),
        )
    )


def dump_request(
    seq: int,
    states: int,
    ports: tuple[int, int] | None = None,
    protocol: int = socket.IPPROTO_TCP,
) -> bytes:
    """A dump of IPv4 sockets of ``protocol`` in ``states`` (a bitmask of TCP states),
    optionally only those with a local or remote port in ``ports`` (filtered in the kernel).

    ``states`` 0 asks for nothing: the kernel answers NLMSG_DONE at once, with -ENOENT if
    it has no handler for ``protocol``. That is how a reader checks it can be used."""
    extra = b""
    if ports is not None:
        code = port_range_filter(*ports)
        extra = _ATTR.pack(_ATTR.size + len(code), INET_DIAG_REQ_BYTECODE) + code
    anywhere = ("0.0.0.0", 0)
    flags = NLM_F_REQUEST | NLM_F_DUMP
    return _pack(seq, flags, states, anywhere, anywhere, extra, protocol)


def parse_replies(data: bytes | bytearray | memoryview) -> list[Reply]:
    """The messages of one datagram from the kernel, in order.

    Messages of other families (not AF_INET or AF_INET6) and of other types (NLMSG_NOOP)
    are skipped.

    Raises:
        DiagFormatError: a header or a body runs past the end of ``data``, or says a
            length shorter than itself.
    """
    replies: list[Reply] = []
    offset = 0
    view = memoryview(data)
    size = len(view)
    while offset < size:
        if size - offset < HEADER.size:
            raise DiagFormatError(f"{size - offset} bytes left: not a netlink header")
        length, kind, flags, seq, _pid = HEADER.unpack_from(view, offset)
        if length < HEADER.size or offset + length > size:
            raise DiagFormatError(f"a message of {length} bytes at offset {offset} in {size}")
        body = offset + HEADER.size
        if kind in (NLMSG_ERROR, NLMSG_DONE):
            if length < HEADER.size + _ERROR.size:
                raise DiagFormatError(f"message type {kind} without its error code")
            (code,) = _ERROR.unpack_from(view, body)
            cls = DiagError if kind == NLMSG_ERROR else DiagDone
            replies.append(cls(seq, -code))
        elif kind == SOCK_DIAG_BY_FAMILY:
            if length < HEADER.size + _MESSAGE.size:
                raise DiagFormatError(f"an inet_diag_msg of {length - HEADER.size} bytes")
            family, state, _t, _r, sport, dport, src, dst, *_rest = _MESSAGE.unpack_from(view, body)
            if family in _WIDTH:
                width = _WIDTH[family]
                replies.append(
                    DiagSocket(
                        seq,
                        state_name(state),
                        (socket.inet_ntop(family, src[:width]), socket.ntohs(sport)),
                        (socket.inet_ntop(family, dst[:width]), socket.ntohs(dport)),
                        bool(flags & NLM_F_MULTI),
                    )
                )
        elif kind == NLMSG_OVERRUN:
            raise DiagFormatError("NLMSG_OVERRUN: the kernel lost part of the reply")
        offset += _align(length)
    return replies
