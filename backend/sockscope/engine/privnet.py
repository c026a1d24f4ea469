"""A lab's private network: a loopback of its own whose cable can be pulled out.

Real packet loss needs the kernel's help. A network namespace has its own ``lo``
with its own 127.0.0.1; bring that ``lo`` down and every segment between two of
its sockets is lost, for real: TCP retransmits with growing back-off (TCP_INFO's
``retransmits`` climbs) and, with ``TCP_USER_TIMEOUT`` set, the kernel ends the
connection with ETIMEDOUT, while the silent side still reads ESTABLISHED. Nothing
outside the namespace is touched.

Making a namespace needs CAP_SYS_ADMIN (root), or an unprivileged user namespace
where the kernel allows them, and a single-threaded process for the latter. So a
small helper process (this module run with ``-m``) enters the namespace, makes
sockets there and hands their descriptors back over a Unix socket; a socket keeps
its namespace for life, so the lab then uses it like any other. The helper also
brings the namespace's ``lo`` up, and opens the packet socket that captures what crosses
that ``lo`` (the wire lane). It exits when the lab closes its end.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
import subprocess
import sys

from sockscope.engine import machine

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
_IFREQ = struct.Struct("16sH14x")
START_TIMEOUT = 10.0  # seconds for the helper to start and enter its namespace
REPLY_TIMEOUT = 5.0


class Unavailable(Exception):
    """This machine (or this process's privileges) does not allow a private network."""


# -- the helper process side --------------------------------------------------------------


def _unshare(flags: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flags) != 0:
        return ctypes.get_errno()
    return 0


def set_link(control: socket.socket, up: bool, ifname: bytes = b"lo") -> None:
    """Set ``ifname`` up or down in ``control``'s network namespace (SIOCSIFFLAGS)."""
    flags: int = _IFREQ.unpack(fcntl.ioctl(control, SIOCGIFFLAGS, _IFREQ.pack(ifname, 0)))[1]
    flags = flags | IFF_UP if up else flags & ~IFF_UP
    fcntl.ioctl(control, SIOCSIFFLAGS, _IFREQ.pack(ifname, flags))


def enter() -> str:
    """Move this (single-threaded) process into a new network namespace; say how."""
    failed = _unshare(CLONE_NEWNET)
    if failed == 0:
        return "a network namespace (CAP_SYS_ADMIN)"
    first = os.strerror(failed)
    failed = _unshare(CLONE_NEWUSER | CLONE_NEWNET)
    if failed == 0:
        return "an unprivileged user and network namespace"
    raise Unavailable(
        f"unshare(CLONE_NEWNET) was refused ({first}), and so was an unprivileged user"
        f" namespace ({os.strerror(failed)}): " + _how_to_allow()
    )


def _how_to_allow() -> str:
    if machine.in_container():
        # Docker's default seccomp profile is what refuses (Podman's too);
        # compose.private-network.yml holds the smallest grant measured, with the reasons.
        return (
            "Docker's default seccomp profile forbids namespaces. The instructor can allow"
            " them: docker compose -f docker-compose.yml -f compose.private-network.yml up"
            " (it adds `cap_add: [SYS_ADMIN]`; the server still holds no capability)"
        )
    return "run Sockscope as root, or where the kernel allows user namespaces"


def serve(channel: socket.socket) -> None:
    """The helper's loop: answer ``socket`` and ``packet`` until the lab hangs up."""
    try:
        how = enter()
        control = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        set_link(control, True)
    except (Unavailable, OSError) as exc:
        channel.send(f"error {exc}".encode())
        return
    channel.send(f"ready {how}".encode())
    while True:
        try:
            request = channel.recv(64)
        except OSError:
            return
        if not request or request == b"quit":
            return
        try:
            if request in (b"socket", b"packet"):
                # a packet socket (the wire lane) of protocol 0: it takes nothing in until
                # the lab has filtered and bound it. This namespace's user namespace, where
                # there is one, holds CAP_NET_RAW over its lo: no privilege needed outside.
                made = (
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    if request == b"socket"
                    else socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
                )
                socket.send_fds(channel, [b"ok"], [made.fileno()])
                made.close()
                # Said only now: until this close the socket had two owners, and a bound
                # trial socket the lab closed would still hold its port.
                channel.send(b"closed")
                continue
            channel.send(b"error unknown request")
        except OSError as exc:
            channel.send(f"error {exc}".encode())


# -- the lab side ---------------------------------------------------------------------------


class Broken(OSError):
    """The helper is gone (exited, killed, or stuck past its deadline): no more requests."""


class PrivateNetwork:
    """The lab's handle on its helper: new sockets in the namespace, the cable's state.

    Used from one thread (the lab's). Any failure to talk to the helper (it exited,
    or did not answer in time, which would leave a late reply in the channel) ends
    the helper for good: later calls raise :class:`Broken` with the same reason.
    """

    def __init__(self, process: subprocess.Popen[bytes], channel: socket.socket, how: str) -> None:
        self.process = process
        self.how = how
        self.plugged = True
        self.broken: str | None = None  # why the helper can no longer be asked
        self._channel = channel

    @classmethod
    def start(cls) -> PrivateNetwork:
        """A new private network, or :class:`Unavailable` saying why not."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "sockscope.engine.privnet", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise Unavailable(f"the helper process could not start: {exc}") from None
        finally:
            theirs.close()
        ours.settimeout(START_TIMEOUT)
        try:
            hello = ours.recv(512).decode(errors="replace")
        except OSError as exc:
            hello = f"error the helper did not answer: {exc}"
        if not hello.startswith("ready "):
            ours.close()
            _reap(process)
            raise Unavailable(hello.removeprefix("error ") or "the helper exited at once")
        ours.settimeout(REPLY_TIMEOUT)
        return cls(process, ours, hello.removeprefix("ready "))

    @property
    def pid(self) -> int:
        return self.process.pid

    def packet_socket(self) -> socket.socket:
        """A new, unbound packet socket on the private network's side (its wire lane)."""
        return self._made(b"packet")

    def _made(self, request: bytes) -> socket.socket:
        fds: list[int] = []
        try:
            self._send(request)
            reply, fds, _flags, _addr = socket.recv_fds(self._channel, 512, 1)
            if reply == b"ok" and fds:
                self._expect(b"closed")  # the helper let go of its copy
                made = socket.socket(fileno=fds.pop())
                made.set_inheritable(False)
                return made
        except OSError as exc:
            raise self._break(exc) from None
        finally:
            for fd in fds:
                os.close(fd)
        raise self._refused(reply)

    def socket(self) -> socket.socket:
        """A new TCP socket that lives in the private network."""
        return self._made(b"socket")

    def close(self) -> None:
        try:
            self._channel.send(b"quit")
        except OSError:
            pass
        self._channel.close()
        _reap(self.process)

    def _send(self, request: bytes) -> None:
        if self.broken is not None:
            raise Broken(errno.EPIPE, self.broken)
        self._channel.send(request)

    def _expect(self, wanted: bytes) -> None:
        got = self._channel.recv(512)
        if got != wanted:
            raise OSError(errno.EPROTO, f"the helper said {got!r}, not {wanted!r}")

    def _refused(self, reply: bytes) -> OSError:
        if not reply:
            return self._break(OSError(errno.EPIPE, "it closed the channel"))
        return OSError(errno.EIO, reply.decode(errors="replace").removeprefix("error "))

    def _break(self, exc: OSError) -> Broken:
        """Stop asking the helper (a late reply would answer the wrong request) and say why."""
        if isinstance(exc, Broken):
            return exc
        if self.broken is None:
            self.process.poll()
            if self.process.returncode is None:
                self.process.kill()  # stuck: a reply it sends later would be out of step
                _reap(self.process)
                what = f"stopped answering ({exc.strerror or exc}), so it was stopped"
            else:
                what = f"exited (code {self.process.returncode})"
            self.broken = (
                f"the private network's helper process {what}; its sockets still work,"
                " but new ones and the cable need a fresh lab (reset it or start a lesson)"
            )
        return Broken(errno.EPIPE, self.broken)


def _reap(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=2)


_known_possible: list[str] = []  # how, once a private network was made here


def availability() -> tuple[bool, str]:
    """(possible, how or why not) on this machine, tried for real.

    A success is remembered; a refusal is tried again next time (it may have been
    passing, such as a process out of file descriptors).
    """
    if _known_possible:
        return True, _known_possible[0]
    try:
        network = PrivateNetwork.start()
    except Unavailable as exc:
        return False, str(exc)
    network.close()
    _known_possible.append(network.how)
    return True, network.how


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
