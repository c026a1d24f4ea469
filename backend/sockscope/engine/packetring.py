"""A packet socket on ``lo`` with a TPACKET_V3 ring: the frames a lab's filter keeps.

Theory of operation. ``socket(AF_PACKET, SOCK_RAW)`` bound to ``lo`` sees every frame
there; the lab's classic BPF program (core/frames.py) runs in the kernel on each and
keeps the lab's own TCP segments, cut to a snap length. The kernel copies what is kept
into a ring of blocks shared with this process (``PACKET_RX_RING``, ``TPACKET_V3``):
reading frames is then no system call at all, just the mapped memory. A block is handed
over when full or ``RETIRE_MS`` after its first frame; the socket turns readable then,
so a select() loop can watch it beside its own sockets. What does not fit while every
block waits to be read is dropped by the kernel and counted (``PACKET_STATISTICS``).

Opening one needs CAP_NET_RAW in the user namespace that owns the network namespace:
root, a file capability, or the user namespace of a lab's private network.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import socket
import struct
import time
from collections.abc import Iterator

from sockscope.engine import packetbroker

SOL_PACKET = 263
PACKET_RX_RING = 5
PACKET_STATISTICS = 6
PACKET_VERSION = 10
TPACKET_V3 = 2
SO_ATTACH_FILTER, SO_DETACH_FILTER = 26, 27
ETH_P_ALL = 3
TP_STATUS_USER = 1
RETIRE_MS = 10  # a block with frames goes to the reader at the latest this late
# Two blocks of 128 KiB (one whole 64 KiB segment and more each): 256 KiB a lab. The ring is
# mapped into the lab's process, so it counts in a room's memory (bench 7: 300 labs); eight
# blocks cost 1 MiB a lab, 1.4 MiB a participant more in all. What does not fit is counted.
BLOCKS = 4

_REQ3 = struct.Struct("7I")  # tpacket_req3
_BLOCK = struct.Struct("III")  # tpacket_hdr_v1: block_status, num_pkts, offset_to_first_pkt
_BLOCK_AT = 8  # after tpacket_block_desc's version and offset_to_priv
# tpacket3_hdr: tp_next_offset, tp_sec, tp_nsec, tp_snaplen, tp_len, tp_status, tp_mac
_FRAME = struct.Struct("IIIIIIH")
_STATS = struct.Struct("III")  # tpacket_stats_v3: packets, drops, freeze_q_cnt


class CaptureRefused(Exception):
    """The kernel would not open a packet socket here; the message says why, in words."""


class PacketRing:
    """The packet socket, its filter and its mapped ring. Lab thread only."""

    def __init__(self, sock: socket.socket, *, block_size: int, blocks: int) -> None:
        self.sock = sock
        self._block_size, self._blocks = block_size, blocks
        self._next = 0  # the block the kernel fills next, in order
        self.seen = self.dropped = 0  # frames the filter kept; of them, what found no room
        self._program: bytes | None = None
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        frames = block_size * blocks // 2048
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING,
                        _REQ3.pack(block_size, blocks, 2048, frames, RETIRE_MS, 0, 0))  # fmt: skip
        self._map = mmap.mmap(
            sock.fileno(), block_size * blocks, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE
        )
        sock.setblocking(False)

    @classmethod
    def open(cls, program: bytes, *, block_size: int = 1 << 17, blocks: int = BLOCKS) -> PacketRing:
        """A ring on ``lo`` of this process's network namespace, filtered by ``program``.

        Raises:
            CaptureRefused: no CAP_NET_RAW here (or no packet sockets in this kernel).
        """
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # nothing until bound
        except PermissionError:
            broker = os.environ.get(packetbroker.ENV)
            if not broker:
                raise CaptureRefused(
                    "the server may not open a packet socket: it needs CAP_NET_RAW (run it as"
                    " root, or in the image, whose packet broker holds it)"
                ) from None
            try:
                sock = packetbroker.ask(broker)
            except OSError as exc:
                raise CaptureRefused(f"the packet broker gave no socket: {exc}") from None
        except OSError as exc:
            raise CaptureRefused(f"no packet socket: {exc.strerror or exc}") from None
        return cls.adopt(sock, program, block_size=block_size, blocks=blocks)

    @classmethod
    def adopt(
        cls, sock: socket.socket, program: bytes, *, block_size: int = 1 << 17, blocks: int = BLOCKS
    ) -> PacketRing:
        """A ring on an unbound packet socket of protocol 0 (opened here, by the packet broker
        or by a private network's helper): it is filtered before it is bound to ``lo`` for
        every protocol, so it never holds a frame that is not the lab's."""
        try:
            ring = cls(sock, block_size=block_size, blocks=blocks)
            ring.set_filter(program)
            sock.bind(("lo", ETH_P_ALL))
        except OSError as exc:
            sock.close()
            raise CaptureRefused(f"the packet ring could not be set up: {exc}") from None
        ring.drain()  # whatever slipped in before the filter
        return ring

    def set_filter(self, program: bytes) -> None:
        """Swap the kernel filter (atomic: no frame is judged by neither)."""
        if program == self._program:
            return
        attach_filter(self.sock, program)
        self._program = program

    def frames(self, limit: int = 4096) -> Iterator[tuple[int, int, bytes]]:
        """The frames the kernel handed over, oldest first, each ``(wall clock ns, its
        length on the wire, its bytes as kept)``; after ``limit`` frames it stops at the end
        of a block, so a reader that cannot keep up still returns. Each block goes back to
        the kernel once read (the bytes are copies: nothing points into the ring)."""
        view, size, count = self._map, self._block_size, 0
        while count < limit:
            base = self._next * size
            status, packets, first = _BLOCK.unpack_from(view, base + _BLOCK_AT)
            if not status & TP_STATUS_USER:
                return
            at = base + first
            for _ in range(packets):
                following, sec, nsec, snap, length, _status, mac = _FRAME.unpack_from(view, at)
                yield sec * 1_000_000_000 + nsec, length, view[at + mac : at + mac + snap]
                count += 1
                at += following
            struct.pack_into("I", view, base + _BLOCK_AT, 0)  # TP_STATUS_KERNEL: the kernel's
            self._next = (self._next + 1) % self._blocks

    def drain(self) -> None:
        for _ in self.frames():
            pass

    def statistics(self) -> tuple[int, int]:
        """Frames the filter kept and those dropped for want of room, since the ring was
        made (the kernel's counters reset each time they are read: summed here)."""
        try:
            packets, drops, _ = _STATS.unpack(
                self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS.size)
            )
        except OSError:
            return self.seen, self.dropped
        self.seen += packets
        self.dropped += drops
        return self.seen, self.dropped

    def close(self) -> None:
        try:
            self._map.close()
        except BufferError:  # never: frames are copies; the GC would free the map anyway
            pass
        self.sock.close()


def attach_filter(sock: socket.socket, program: bytes) -> None:
    """Give ``sock`` the classic BPF ``program`` (struct sock_filter[]): SO_ATTACH_FILTER
    with its struct sock_fprog. The kernel copies the program: the buffer may go after."""
    code = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(code))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def wall_to_monotonic_ns() -> int:
    """What to add to a wall-clock time (the ring's timestamps) to read it on the monotonic
    clock the lab's events use."""
    return time.monotonic_ns() - time.time_ns()
