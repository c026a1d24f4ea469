"""The one process allowed to open packet sockets, so that the server needs no capability.

A lab's wire lane needs a packet socket on ``lo``, and opening one needs CAP_NET_RAW. In
the image the server runs as an unprivileged user with no capability at all. So the
container starts this module as root (``python -m sockscope.engine.packetbroker --user
sockscope -- sockscope --host 0.0.0.0``); it:

1. becomes the user (groups dropped, then gid, then uid), keeping CAP_NET_RAW alone
   (``PR_SET_KEEPCAPS``; every other capability leaves its bounding set);
2. makes a private folder of the user's, with a Unix socket in it;
3. starts the server, the same user, with the socket's path in ``SOCKSCOPE_PACKET_BROKER``
   (exec clears a non-root process's capabilities: the server holds none);
4. answers "packet" with a new, unbound ``AF_PACKET`` socket of protocol 0 (it receives
   nothing until the lab has filtered and bound it: engine/packetring.py), passed with
   SCM_RIGHTS, and nothing else;
5. forwards SIGTERM, SIGINT and SIGHUP to the server, reaps any orphan (it is the
   container's PID 1: no root init stays behind it), and exits with the server's status.

Where it cannot keep CAP_NET_RAW (a container started without it) it still starts the
server, and answers each request with the reason: the wire lane then says so.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading

ENV = "SOCKSCOPE_PACKET_BROKER"
CAP_NET_RAW = 13
CAP_LAST = 63
PR_CAPBSET_DROP, PR_SET_KEEPCAPS = 24, 8
_CAP_VERSION_3 = 0x20080522
REPLY_TIMEOUT = 5.0


def ask(path: str) -> socket.socket:
    """A new packet socket from the broker at ``path`` (unbound, protocol 0).

    Raises:
        OSError: no broker answered, or it could not open one (its reason).
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as channel:
        channel.settimeout(REPLY_TIMEOUT)
        channel.connect(path)
        channel.send(b"packet")
        reply, fds, _flags, _addr = socket.recv_fds(channel, 512, 1)
    if reply == b"ok" and fds:
        made = socket.socket(fileno=fds[0])
        made.set_inheritable(False)
        return made
    for fd in fds:
        os.close(fd)
    raise OSError(reply.decode(errors="replace").removeprefix("error ") or "the broker hung up")


# -- the broker's side -------------------------------------------------------------------


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def keep_net_raw_only(uid: int, gid: int) -> None:
    """Become ``uid``:``gid`` holding CAP_NET_RAW and nothing else (in every set).

    Raises:
        OSError: the process does not hold CAP_NET_RAW to keep (or may not change user).
    """
    libc = _libc()
    if libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_KEEPCAPS)")
    for cap in range(CAP_LAST + 1):
        if cap != CAP_NET_RAW:
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the kernel's last: fine
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    header = ctypes.create_string_buffer(struct.pack("Ii", _CAP_VERSION_3, 0))
    bit = 1 << CAP_NET_RAW
    data = ctypes.create_string_buffer(struct.pack("6I", bit, bit, 0, 0, 0, 0))
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset(CAP_NET_RAW): the container may not hold it")


def serve(listener: socket.socket, refusal: str | None = None) -> None:
    """Answer each connection's "packet" with a packet socket (or with ``refusal``, when
    this process could not keep the capability), until the listener closes."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(REPLY_TIMEOUT)
            try:
                if conn.recv(64) != b"packet":
                    conn.send(b"error unknown request")
                    continue
                if refusal is not None:
                    conn.send(f"error {refusal}".encode())
                    continue
                with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as made:
                    socket.send_fds(conn, [b"ok"], [made.fileno()])
            except OSError as exc:
                with contextlib.suppress(OSError):
                    conn.send(f"error the broker could not open a packet socket: {exc}".encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sockscope.engine.packetbroker")
    parser.add_argument("--user", required=True, help="the unprivileged user to run as")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the server's command")
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] or ["sockscope"]
    env = dict(os.environ)
    if os.geteuid() != 0:  # not root: nothing to keep or drop, the server runs as it is
        os.execvpe(command[0], command, env)
    user = pwd.getpwnam(args.user)
    refusal = None
    try:
        keep_net_raw_only(user.pw_uid, user.pw_gid)
    except PermissionError as exc:  # capset: the user, without the capability
        refusal = (
            f"the container holds no CAP_NET_RAW ({exc.strerror or exc}): compose's"
            " cap_add: [NET_RAW] gives it to the packet broker alone"
        )
        print(f"sockscope: packet broker: {refusal}", file=sys.stderr)
    if os.getuid() == 0:  # setuid() itself was refused: never run the server as root
        print("sockscope: could not become the user (the container needs SETUID and SETGID)",
              file=sys.stderr)  # fmt: skip
        return 1
    # Now the user: the folder and the socket are its own, and the server (the same user,
    # its capabilities cleared by exec) is the only other process that may connect.
    folder = tempfile.mkdtemp(prefix="sockscope-packets-")
    path = os.path.join(folder, "broker.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(16)
    env[ENV] = path
    child = os.fork()
    if child == 0:
        listener.close()
        os.execvpe(command[0], command, env)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda s, _f: os.kill(child, s))
    threading.Thread(target=serve, args=(listener, refusal), daemon=True).start()
    while True:  # as the container's PID 1 it adopts orphans too: reap them, wait for ours
        pid, status = os.waitpid(-1, 0)
        if pid == child:
            break
    listener.close()
    shutil.rmtree(folder, ignore_errors=True)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
