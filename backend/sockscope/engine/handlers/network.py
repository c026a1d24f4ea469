"""The lab's private network: sockets made in it, and its cable pulled out or plugged back.

Pulling the cable drops every segment at the socket that would receive it: each of the
network's sockets gets a socket filter that keeps nothing (SO_ATTACH_FILTER, ``ret 0``),
which the kernel runs as TCP takes a segment in, after the packet tap. So the segments
still cross the network's ``lo`` and the wire lane shows them, each retransmission with
its growing back-off, while TCP on both sides hears nothing: the loss is real, as with the
cable out (TCP_INFO's retransmits climb; with TCP_USER_TIMEOUT, ETIMEDOUT). Bringing ``lo``
down instead would stop them before the tap, and the lane would show silence. A socket made
or accepted while the cable is out gets the filter too; plugging back in takes them off.
"""

from __future__ import annotations

import errno
import socket
import struct

from sockscope.engine import privnet
from sockscope.engine.context import LabContext
from sockscope.engine.core.commands import Cable
from sockscope.engine.core.errors import Conflict
from sockscope.engine.packetring import SO_DETACH_FILTER, attach_filter
from sockscope.engine.probes import probe_now
from sockscope.engine.sockets import LabSocket
from sockscope.engine.tickets import Ticket
from sockscope.events import NetworkEvent


def private_network(lab: LabContext, field: str) -> privnet.PrivateNetwork:
    """The lab's private network, made on first use; Conflict on ``field`` when impossible."""
    if lab.private is None:
        try:
            lab.private = privnet.PrivateNetwork.start()
        except privnet.Unavailable as exc:
            why = f"{field}: this machine gives no private network: {exc}"
            raise Conflict(field, why) from None
        lab.emit(NetworkEvent, state="plugged", how=lab.private.how)
    network: privnet.PrivateNetwork = lab.private
    return network


def new_socket(
    lab: LabContext,
    network: str,
    field: str,
    family: int = socket.AF_INET,
    kind: int = socket.SOCK_STREAM,
) -> socket.socket:
    """A socket in the machine's network, or a TCP/IPv4 one in the lab's private network."""
    if network == "private":
        try:
            return private_network(lab, field).socket()
        except privnet.Broken as exc:
            raise Conflict(field, f"{field}: {exc.strerror}") from None
    return socket.socket(family, kind)


_KEEP_NOTHING = struct.pack("HBBI", 0x06, 0, 0, 0)  # classic BPF: ret 0


def cut_off(sock: socket.socket) -> None:
    """``sock`` takes no segment in any more (the cable is out)."""
    attach_filter(sock, _KEEP_NOTHING)


def reconnect(sock: socket.socket) -> None:
    """``sock`` takes segments in again (the cable is back, or it never had a filter)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
    except OSError as exc:
        if exc.errno != errno.ENOENT:  # ENOENT: it had none
            raise


def follow_cable(lab: LabContext, ls: LabSocket) -> None:
    """A private socket just made or accepted: cut off while the cable is out (an accepted
    socket inherits its listener's filter, so it is taken off once the cable is back)."""
    if ls.network != "private" or lab.private is None:
        return
    try:
        if lab.private.plugged:
            reconnect(ls.sock)
        else:
            cut_off(ls.sock)
    except OSError as exc:
        lab.emit_notice(ls.name, f"{ls.name} does not follow the cable: {exc.strerror or exc}")


def op_cable(lab: LabContext, cmd: Cable, ticket: Ticket) -> None:
    if lab.private is None:
        raise Conflict(
            "plugged",
            "cable: this lab has no private network yet; make a socket with"
            ' options.network = "private" first',
        )
    plugged = cmd.plugged
    private = [ls for ls in lab.sockets.values() if ls.network == "private"]
    try:
        for ls in private:
            (reconnect if plugged else cut_off)(ls.sock)
    except OSError as exc:
        raise Conflict("plugged", f"cable: the kernel refused: {exc.strerror or exc}") from None
    lab.private.plugged = plugged
    lab.emit(NetworkEvent, state="plugged" if plugged else "cut", how=lab.private.how)
    for ls in lab.sockets.values():
        if ls.network == "private":
            lab.sync(ls)
    probe_now(lab, *(ls for ls in lab.sockets.values() if ls.network == "private"))
    ticket.succeed({"plugged": plugged})


def close_private(lab: LabContext, *, say: bool = True) -> None:
    """End the helper (its sockets are closed already); ``say`` so when the lab goes on."""
    if lab.private is not None:
        how = lab.private.how
        lab.private.close()
        lab.private = None
        if say:
            lab.emit(NetworkEvent, state="closed", how=how)
