"""The lab's private network: sockets made in it, and its cable pulled out or plugged back."""

from __future__ import annotations

import socket

from sockscope.engine import privnet
from sockscope.engine.context import LabContext
from sockscope.engine.core.commands import Cable
from sockscope.engine.core.errors import Conflict
from sockscope.engine.probes import probe_now
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


def op_cable(lab: LabContext, cmd: Cable, ticket: Ticket) -> None:
    if lab.private is None:
        raise Conflict(
            "plugged",
            "cable: this lab has no private network yet; make a socket with"
            ' options.network = "private" first',
        )
    plugged = cmd.plugged
    try:
        lab.private.set_cable(plugged)
    except privnet.Broken as exc:
        raise Conflict("plugged", f"cable: {exc.strerror}") from None
    except OSError as exc:
        raise Conflict("plugged", f"cable: the kernel refused: {exc.strerror or exc}") from None
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
