"""The kernel's socket table through NETLINK_SOCK_DIAG: the socket I/O.

What goes over the wire, and how replies are parsed, is in the pure
:mod:`sockscope.engine.core.sockdiag`. A :class:`DiagReader` holds one netlink socket
and is not thread-safe: :class:`sockscope.engine.watch.SharedPoller` uses it under its
lock.

Exact lookups are sent many to a datagram. The kernel answers them while ``send()``
runs (so the answers are read without waiting), one datagram each (about 1.3 KB of
receive buffer apiece, measured), and drops what does not fit (the next ``recv()`` then
fails with ENOBUFS): so a batch is sized to the socket's receive buffer, and a
connection whose answer was lost is left out of the result (unknown), never reported
gone.
"""

from __future__ import annotations

import errno
import os
import select
import socket
from collections.abc import Iterable

from sockscope.engine.core.sockdiag import (
    NETLINK_SOCK_DIAG,
    Conn,
    DiagDone,
    DiagError,
    DiagSocket,
    dump_request,
    lookup_request,
    parse_replies,
)

RCVBUF = 1 << 20  # asked for; the kernel caps it at net.core.rmem_max (and doubles it)
REPLY_SPACE = 2048  # receive buffer to allow per lookup answer (measured: about 1,280)
MAX_BATCH = 512
TIMEOUT = 1.0  # seconds to wait for the next part of a dump (the kernel makes it in recv())
BUFFER = 1 << 16  # a dump's datagrams stay below 32 KiB


class DiagUnavailable(Exception):
    """This kernel (or this process) cannot answer sock_diag requests for TCP."""


class DiagReader:
    """Exact lookups (and filtered dumps) of IPv4 TCP sockets, over one netlink socket.

    ``netlink`` and ``protocol`` name the kernel interface; they are parameters so a
    test can ask the real kernel for one it does not have. ``rcvbuf`` sizes the batches.
    """

    def __init__(
        self,
        netlink: int = NETLINK_SOCK_DIAG,
        protocol: int = socket.IPPROTO_TCP,
        rcvbuf: int = RCVBUF,
    ) -> None:
        self.netlink = netlink
        self.protocol = protocol
        self.rcvbuf = rcvbuf
        self._sock: socket.socket | None = None
        self._pid = 0
        self._seq = 0
        self._buffer = bytearray(BUFFER)
        self.batch = 16
        self.lost = 0  # answers the kernel could not queue (ENOBUFS), since the start

    def open(self) -> None:
        """Open the socket and check the kernel answers for the protocol.

        Raises:
            DiagUnavailable: no NETLINK_SOCK_DIAG, or no handler for the protocol.
        """
        self.close()
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, self.netlink)
        except OSError as exc:
            raise DiagUnavailable(f"no NETLINK_SOCK_DIAG socket: {exc.strerror}") from exc
        try:
            sock.bind((0, 0))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            sock.setblocking(False)  # a dump's next part is waited for with poll()
            rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            self.batch = max(16, min(MAX_BATCH, rcvbuf // REPLY_SPACE))
            self._sock, self._pid = sock, os.getpid()
            self._probe()
        except OSError as exc:
            self.close()
            sock.close()
            raise DiagUnavailable(f"sock_diag did not answer: {exc}") from exc

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _socket(self) -> socket.socket:
        if self._sock is None or self._pid != os.getpid():  # never share one across a fork
            self._sock = None
            self.open()
        assert self._sock is not None
        return self._sock

    def _next_seq(self, count: int = 1) -> int:
        first = self._seq + 1
        self._seq = (self._seq + count) % 0xFFFF_0000
        return first

    def _recv(self, sock: socket.socket, wait: bool = True) -> memoryview:
        """The next datagram; BlockingIOError if none is queued and not ``wait``.

        Raises:
            TimeoutError: ``wait``, and nothing came for TIMEOUT seconds.
        """
        while True:
            try:
                n = sock.recv_into(self._buffer, 0, socket.MSG_TRUNC)
                break
            except BlockingIOError:
                if not wait:
                    raise
                poll = select.poll()
                poll.register(sock, select.POLLIN)
                if not poll.poll(TIMEOUT * 1000):
                    raise TimeoutError("sock_diag did not answer") from None
        if n > len(self._buffer):
            raise OSError(errno.EMSGSIZE, f"a {n}-byte datagram from sock_diag was cut short")
        return memoryview(self._buffer)[:n]

    def _probe(self) -> None:
        """A dump of no states: NLMSG_DONE at once, with an error if TCP has no handler."""
        sock = self._socket()
        seq = self._next_seq()
        sock.send(dump_request(seq, 0, protocol=self.protocol))
        while True:
            for reply in parse_replies(self._recv(sock)):
                if reply.seq == seq and isinstance(reply, DiagDone | DiagError):
                    if reply.errno:
                        raise OSError(reply.errno, os.strerror(reply.errno))
                    return

    def lookup(self, conns: Iterable[Conn]) -> dict[Conn, str | None]:
        """The TCP state of each connection (local, peer), None if the kernel has none.

        A connection whose answer did not come back is left out.

        Raises:
            OSError: the netlink socket failed (not: a connection was not found).
            DiagUnavailable: it had to be reopened, and could not be.
        """
        sock = self._socket()
        found: dict[Conn, str | None] = {}
        pending = list(dict.fromkeys(conns))
        for start in range(0, len(pending), self.batch):
            chunk: dict[int, Conn] = {}
            requests = []
            for conn in pending[start : start + self.batch]:
                seq = self._next_seq()
                try:
                    requests.append(lookup_request(seq, conn))
                except OSError:  # not an IPv4 address: not in this table
                    found[conn] = None
                    continue
                chunk[seq] = conn
            if requests:
                sock.send(b"".join(requests))
                self._answers(sock, chunk, found)
        return found

    def _answers(
        self, sock: socket.socket, asked: dict[int, Conn], found: dict[Conn, str | None]
    ) -> None:
        # The kernel answered every lookup inside send(): whatever is not queued by now
        # was dropped, so nothing is waited for.
        while asked:
            try:
                data = self._recv(sock, wait=False)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                self.lost += 1  # some answers were dropped; the ones before are still queued
                continue
            for reply in parse_replies(data):
                conn = asked.pop(reply.seq, None)
                if conn is None:
                    continue  # an answer to an earlier, abandoned batch
                if isinstance(reply, DiagSocket):
                    # No such connection: the kernel answers with the listener on the port.
                    found[conn] = reply.state if (reply.local, reply.peer) == conn else None
                elif isinstance(reply, DiagError) and reply.not_found:
                    found[conn] = None
                # any other error: unknown, left out

    def dump(self, states: int, ports: tuple[int, int] | None = None) -> dict[Conn, str]:
        """Every IPv4 TCP socket in ``states`` (with a port in ``ports``): (local, peer) -> state.

        Raises:
            OSError: the socket failed, or the kernel ended the dump with an error.
        """
        sock = self._socket()
        seq = self._next_seq()
        sock.send(dump_request(seq, states, ports))
        found: dict[Conn, str] = {}
        while True:
            for reply in parse_replies(self._recv(sock)):
                if reply.seq != seq:
                    continue
                if isinstance(reply, DiagSocket):
                    found[(reply.local, reply.peer)] = reply.state
                elif reply.errno:
                    raise OSError(reply.errno, os.strerror(reply.errno))
                elif isinstance(reply, DiagDone):
                    return found
