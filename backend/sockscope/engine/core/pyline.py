"""The Python line of each call, written once (pure).

The lab records these lines in its call events, the exported script falls back on
them, and the UI's forms show :func:`preview` of what they are about to send: the
same text everywhere, so a participant reads one program.
"""

from __future__ import annotations

from sockscope.engine.core.calltext import address_text
from sockscope.engine.core.commands import (
    READ_ONLY_SOCKOPTS,
    SOCKOPTS,
    Abort,
    Accept,
    Auto,
    Bind,
    Cable,
    Close,
    Command,
    Connect,
    Dup,
    Fault,
    Flush,
    GetSockOpt,
    Listen,
    MakeFile,
    NewLink,
    NewSocket,
    Pause,
    Payload,
    Recv,
    RecvFrom,
    Resume,
    Send,
    SendAll,
    SendTo,
    SetBlocking,
    SetSockOpt,
    SetTimeout,
    Shutdown,
    Step,
    Watch,
    Write,
)
from sockscope.engine.core.payload import literal
from sockscope.engine.core.policy import LabPolicy

PRIVATE_NOTE = "  # in the lab's private network"
LINGER_ZERO = "struct.pack('ii', 1, 0)"


def payload_text(payload: Payload) -> str:
    """What a send's argument reads as: a bytes literal, or ``pattern(size)``."""
    return f"pattern({payload.size})" if payload.literal is None else literal(payload.literal)


def new_socket(
    name: str, network: str = "host", family: str = "AF_INET", kind: str = "SOCK_STREAM"
) -> str:
    line = f"{name} = socket.socket(socket.{family}, socket.{kind})"
    return line + PRIVATE_NOTE if network == "private" else line


def setsockopt(name: str, option: str, value: int | str) -> str:
    level = "SOL_SOCKET" if option == "SO_LINGER" else SOCKOPTS[option][0]
    return f"{name}.setsockopt(socket.{level}, socket.{option}, {value})"


def linger_zero(name: str) -> str:
    """The first half of an abort: SO_LINGER on, 0 seconds (close() then sends a RST)."""
    return setsockopt(name, "SO_LINGER", LINGER_ZERO)


def getsockopt(name: str, option: str) -> str:
    level = (SOCKOPTS | READ_ONLY_SOCKOPTS)[option][0]
    return f"{name}.getsockopt(socket.{level}, socket.{option})"


def setblocking(name: str, flag: bool) -> str:
    return f"{name}.setblocking({flag})"


def settimeout(name: str, timeout: float | None) -> str:
    return f"{name}.settimeout({timeout})"


def bind(
    name: str,
    address: tuple[str, int],
    *,
    asked_port: int | None = None,
    policy: LabPolicy | None = None,
) -> str:
    """``address`` is the one bound; ``asked_port`` 0 says how the lab picked the port."""
    line = f"{name}.bind({address_text(address)})"
    if asked_port == 0 and policy is not None:
        line += f"  # port 0: the first free port of the lab range {policy.port_min}-"
        line += f"{policy.port_max}"
    return line


def listen(name: str, backlog: int | None) -> str:
    return f"{name}.listen({'' if backlog is None else backlog})"


def connect(name: str, address: tuple[str, int]) -> str:
    return f"{name}.connect({address_text(address)})"


def accept(name: str, new: str) -> str:
    return f"{new}, addr = {name}.accept()"


def send(name: str, text: str) -> str:
    return f"{name}.send({text})"


def sendall(name: str, text: str) -> str:
    return f"{name}.sendall({text})"


def recv(name: str, bufsize: int) -> str:
    return f"{name}.recv({bufsize})"


def sendto(name: str, text: str, address: tuple[str, int]) -> str:
    return f"{name}.sendto({text}, {address_text(address)})"


def recvfrom(name: str, bufsize: int) -> str:
    return f"data, address = {name}.recvfrom({bufsize})"


def dup(name: str, new: str) -> str:
    return f"{new} = {name}.dup()"


def shutdown(name: str, how: str) -> str:
    return f"{name}.shutdown(socket.{how})"


def close(name: str) -> str:
    return f"{name}.close()"


def file_of(name: str) -> str:
    """The name of a socket's buffered file."""
    return f"f_{name}"


def makefile(name: str) -> str:
    return f"{file_of(name)} = {name}.makefile('wb')"


def write(name: str, text: str) -> str:
    return f"{file_of(name)}.write({text})"


def flush(name: str) -> str:
    return f"{file_of(name)}.flush()"


def close_file(name: str) -> str:
    return f"{file_of(name)}.close()  # flushes what it still holds"


def new_link(name: str, listen_at: tuple[str, int], target: tuple[str, int]) -> str:
    line = (
        f"{name} = Link(listen=({listen_at[0]!r}, {listen_at[1]}), target={address_text(target)})"
    )
    return line + "  # a relay in this lab's select() loop"


def preview(cmd: Command, policy: LabPolicy, *, new_name: str = "conn") -> list[str]:
    """The lines ``cmd`` will run, as the lab will log them; a value the kernel or the lab
    picks (a port 0, a new socket's name) is shown as asked. Commands that are no call of
    the socket API (the loop, auto, watch, the cable) are shown as comments."""
    match cmd:
        case NewSocket(name=name, options=options):
            lines = [new_socket(name, options.network, options.family, options.type)]
            lines += [setsockopt(name, option, value) for option, value in options.sockopts()]
            return lines + ([] if options.blocking else [setblocking(name, False)])
        case Bind(socket=name, address=address):
            return [bind(name, address, asked_port=address[1], policy=policy)]
        case Listen(socket=name, backlog=backlog):
            return [listen(name, backlog)]
        case Connect(socket=name, address=address):
            return [connect(name, address)]
        case Accept(socket=name):
            return [accept(name, cmd.name or new_name)]
        case Send(socket=name):
            return [send(name, payload_text(cmd.payload))]
        case SendAll(socket=name):
            return [sendall(name, payload_text(cmd.payload))]
        case Write(socket=name):
            return [write(name, payload_text(cmd.payload))]
        case Recv(socket=name, bufsize=bufsize):
            return [recv(name, bufsize)]
        case SendTo(socket=name, address=address):
            return [sendto(name, payload_text(cmd.payload), address)]
        case RecvFrom(socket=name, bufsize=bufsize):
            return [recvfrom(name, bufsize)]
        case Dup(socket=name):
            return [dup(name, cmd.name or f"{name}_dup")]
        case Shutdown(socket=name, how=how):
            return [shutdown(name, how)]
        case Close(socket=name):
            return [close(name)]
        case Abort(socket=name):
            return [linger_zero(name), close(name)]
        case SetBlocking(socket=name, flag=flag):
            return [setblocking(name, flag)]
        case SetTimeout(socket=name, timeout=timeout):
            return [settimeout(name, timeout)]
        case SetSockOpt(socket=name, option=option, value=value):
            return [setsockopt(name, option, value)]
        case GetSockOpt(socket=name, option=option):
            return [getsockopt(name, option)]
        case MakeFile(socket=name):
            return [makefile(name)]
        case Flush(socket=name):
            return [flush(name)]
        case NewLink(name=name, address=address, target=target):
            return [new_link(name, address, target)]
        case Auto() | Watch() | Fault() | Cable() | Pause() | Resume() | Step():
            given = cmd.model_dump(exclude_defaults=True, exclude={"op"})
            return [f"# the lab: {cmd.op}({', '.join(f'{k}={v!r}' for k, v in given.items())})"]
    raise AssertionError(f"no line for {cmd.op}")  # pragma: no cover (the match is total)
