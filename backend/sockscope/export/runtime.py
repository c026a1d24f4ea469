"""The program an exported script carries: its own sockets, select() loop and printing.

:func:`sockscope.export.script.render_script` puts this text at the top of every script,
then one block per command that calls these functions. It must run on Python 3.8+ with
the standard library only (a test checks its imports), so it is text here, not code
this package imports.
"""

RUNTIME = '''\
import errno
import select
import socket
import struct
import threading
import time

WAIT = 1.0  # a call that blocks is waited for this long, then the program goes on (as the lab)
LOOP_TIMEOUT = 0.25  # the lab's select() timeout: the longest a step() waits
DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)  # the loop's own calls must never block
SOCKS = {}  # name -> Sock: the program's sockets, under the lab's names
BLOCKED = []  # calls blocked in a thread: (Sock, side, op, line, box, started, new, size)
PAUSED = False  # pause(): the select() loop does nothing until resume()
MOVED = {}  # a private-network port of the lab -> the port its replay got on this machine


class Sock:
    """A socket, and what the program's select() loop knows about it."""

    def __init__(self, name, sock, role="new", auto_recv="off", bufsize=65536):
        self.name, self.sock = name, sock
        self.role = role  # new, bound, listening, connecting, connected or failed
        self.auto_accept = False  # the loop accept()s when this listening socket is readable
        self.auto_recv, self.bufsize = auto_recv, bufsize  # the loop recv()s: discard or echo
        self.eof = self.shut_rd = False  # recv() gave b''; this side shut down its reading
        self.sent = 0  # bytes sent so far: the next pattern payload goes on from there
        self.outbox = []  # [data, bytes sent, sendall line or None for an echo]: the loop sends
        self.busy = set()  # "in" / "out": a thread is blocked in a call on that side
        self.file = None  # makefile('wb'): a buffer in Python, in front of the kernel's
        self.watch_read = self.watch_write = False  # kept in select()'s lists regardless
        self.spins = 0  # turns where select() reported it ready and the program did nothing


def bind_elsewhere(sock, address):
    """bind() to any free port, for a lab port that another of its sockets holds here."""
    sock.bind((address[0], 0))
    MOVED[address[1]] = sock.getsockname()[1]


def pattern(offset, size):
    """size bytes of the lab's pattern from stream offset: b"0000000|0000001|..." (hex)."""
    first, skip = divmod(offset, 8)
    count = (skip + size + 7) // 8
    return b"".join(b"%07x|" % ((first + i) % 0x10000000) for i in range(count))[skip:][:size]


def sent(name):
    return SOCKS[name].sent if name in SOCKS else 0


def perform(call, sock):
    """One call. An OSError is an answer too: the kernel said no, and why."""
    try:
        return call(sock), None
    except (OSError, ValueError, OverflowError, AttributeError) as exc:
        return None, exc  # AttributeError: an option this system does not have


def errname(exc):
    """EAGAIN, ECONNREFUSED, ...: the errno's name; "timeout" when settimeout() ran out."""
    if isinstance(getattr(exc, "errno", None), int):
        return errno.errorcode.get(exc.errno, "E%d" % exc.errno)
    return "timeout" if isinstance(exc, socket.timeout) else type(exc).__name__


def say(tag, line, result):
    print("%s%s  ->  %s" % (tag, line, result), flush=True)


def show(op, name, line, call, new=None, size=0):
    """Make one call on socket `name`; print `line  ->  result` as the lab's log does.

    On a blocking socket a call that may block runs in a thread, as in the lab. Still
    blocked after WAIT seconds, the program goes on; its result is printed when it comes.
    """
    reap()
    s = None if op == "socket" else find(name)
    if op != "socket" and s is None:
        return say("", line, "(not run: this program has no socket %r)" % name)
    if op in ("send", "sendall"):
        drain(s)
    target = s and (s.file if op in ("write", "flush", "close_file") else s.sock)
    may_block = op in ("accept", "connect", "send", "sendall", "recv", "write", "flush",
                       "sendto", "recvfrom")
    if s is None or not may_block or s.sock.gettimeout() == 0.0:
        value, exc = perform(call, target)
        return say("", line, after(op, name, s, line, value, exc, new, size))
    side = "in" if op in ("accept", "recv", "recvfrom") else "out"
    box, started = [], time.monotonic()

    def work():
        box.append(perform(call, target) + (time.monotonic(),))

    threading.Thread(target=work, daemon=True).start()
    s.busy.add(side)
    while not box and time.monotonic() < started + WAIT:
        reap()  # meanwhile the loop runs, and other calls return, as in the lab
        if PAUSED:
            time.sleep(0.005)
        else:
            select_once(0.01)
    if not box:
        BLOCKED.append((s, side, op, line, box, started, new, size))
        return say("", line, "... blocked")
    s.busy.discard(side)
    say("", line, after(op, name, s, line, box[0][0], box[0][1], new, size))


def reap(tag=""):
    """Print the blocked calls that have returned since (the lab's "via worker" calls)."""
    for entry in sorted((e for e in BLOCKED if e[4]), key=lambda e: e[4][0][2]):
        BLOCKED.remove(entry)
        s, side, op, line, box, started, new, size = entry
        s.busy.discard(side)
        value, exc, ended = box[0]
        result = after(op, s.name, s, line, value, exc, new, size)
        say("%s[returned after %.2f s] " % (tag, ended - started), line, result)


def after(op, name, s, line, value, exc, new=None, size=0):
    """Note what a call changed (the loop needs it); return its result as the lab prints it."""
    if op == "close" and SOCKS.get(name) is s:
        del SOCKS[name]  # gone, whatever close() said
    if exc is not None:
        if op == "connect":
            in_progress = getattr(exc, "errno", None) == errno.EINPROGRESS
            s.role = "connecting" if in_progress else "failed"
        return errname(exc)
    if op == "socket":
        SOCKS[name] = Sock(name, value)
        return "<socket fd=%d>" % value.fileno()
    if op == "accept":
        return accepted(s, value, new)
    if op == "dup":  # a second socket object, and descriptor, for the same kernel socket
        SOCKS[new] = copy = Sock(new, value, s.role, "off", s.bufsize)
        copy.eof, copy.shut_rd = s.eof, s.shut_rd
        return "<socket fd=%d>" % value.fileno()
    if op == "recvfrom":
        data, sender = value  # sender: None on a socket that is not UDP
        shown, note = received(s, data).rsplit(" (", 1)  # "b'...' (5 bytes)", as recv() says
        return "(%s, %r) (%s" % (shown, sender and tuple(sender[:2]), note)
    if op in ("makefile", "close_file"):
        s.file = value if op == "makefile" else None
        if op == "makefile":  # io.DEFAULT_BUFFER_SIZE: what write() keeps before sending
            return "<BufferedWriter: 8192 bytes of buffer in Python>"
    if op == "recv":
        return received(s, value)
    if op in ("bind", "listen", "connect"):
        s.role = {"bind": "bound", "listen": "listening", "connect": "connected"}[op]
    elif op in ("send", "sendall", "write", "sendto"):
        s.sent += value if op in ("send", "write", "sendto") else size
        if op == "sendto" and s.role == "new":
            s.role = "bound"  # the kernel bound it to a port of its own
    elif op == "shutdown":
        s.shut_rd = s.shut_rd or "SHUT_RD" in line  # SHUT_RD or SHUT_RDWR
    elif op == "getsockopt" and "SO_ERROR" in line and value:
        return "%d (%s)" % (value, errno.errorcode.get(value, "?"))
    return repr(value)


def received(s, data):
    """What recv() returned, as the lab prints it. b'' means the stream has ended."""
    if data:
        return "%r%s (%d bytes)" % (data[:48], "..." if len(data) > 48 else "", len(data))
    if s.sock.type == socket.SOCK_DGRAM:
        return "b'' (a datagram of 0 bytes)"  # UDP: no stream to end
    s.eof = True
    return "b'' (this side was shut down)" if s.shut_rd else "b'' (peer closed)"


def accepted(listener, value, name=None):
    """Keep the socket accept() returned; the loop reads it the way it reads its listener."""
    conn, addr = value
    if name is None or name in SOCKS:
        name = free_name()
    SOCKS[name] = Sock(name, conn, "connected", listener.auto_recv, listener.bufsize)
    return "(%s, %r)" % (name, addr)


def free_name(base="conn"):
    """The lab's names for accepted sockets: conn, conn2, conn3, ..."""
    name, n = base, 2
    while name in SOCKS:
        name, n = base + str(n), n + 1
    return name


def find(name):
    """The socket called name (one that the loop accepts may take a moment to appear)."""
    deadline = time.monotonic() + WAIT
    while name not in SOCKS and not PAUSED and time.monotonic() < deadline:
        accepting = any(s.auto_accept for s in SOCKS.values())
        if not accepting and not any(entry[2] == "accept" for entry in BLOCKED):
            break  # no accept() can make it: it will not appear
        select_once(0.01)
        reap()
    return SOCKS.get(name)


def drain(s):
    """Before a send: let the loop finish a sendall still going (the lab allows one writer)."""
    deadline = time.monotonic() + 5
    while any(box[2] for box in s.outbox) and not PAUSED and time.monotonic() < deadline:
        select_once(0.01)


def sendall(name, line, make):
    """sendall(make()). Blocking socket: the real sendall(). Non-blocking: the lab's way,
    one send() now, then one per writable turn of the loop, a [loop] line once all is sent."""
    s = find(name)
    if s is None or s.sock.gettimeout() != 0.0:
        data = make()
        return show("sendall", name, line, lambda sock: sock.sendall(data), size=len(data))
    reap()
    drain(s)
    s.outbox.append([make(), 0, line])  # made now: a pattern goes on from the bytes sent so far
    send_some(s, "")


def auto(name, **what):
    """What the loop does with a socket: accept=True; recv="discard", "echo" or "off"; bufsize."""
    print("# auto: %s %s" % (name, ", ".join("%s=%r" % item for item in what.items())))
    s = find(name)
    if s is not None:
        s.auto_accept = what.get("accept", s.auto_accept)
        s.auto_recv = what.get("recv", s.auto_recv)
        s.bufsize = what.get("bufsize", s.bufsize)


def watch(name, **lists):
    """Keep a socket in select()'s readers (read=True) or writers (write=True), whatever
    the program has to do with it: select() then returns at once, turn after turn."""
    print("# watch: %s %s" % (name, ", ".join("%s=%r" % item for item in lists.items())))
    s = find(name)
    if s is not None:
        s.watch_read = lists.get("read", s.watch_read)
        s.watch_write = lists.get("write", s.watch_write)


def spun():
    """Say how often select() found a watched socket ready with nothing for the program to do."""
    for s in SOCKS.values():
        if s.spins:
            print("[loop] select() returned at once %d times with %s ready, and the program had"
                  " nothing to do with it" % (s.spins, s.name))
            s.spins = 0


def pause(paused=True):
    global PAUSED
    PAUSED = paused
    print("# the select() loop is " + ("paused" if paused else "running"))


def resume():
    pause(False)


def step():
    print("# step: one turn of the select() loop")
    reap()
    select_once(LOOP_TIMEOUT)


def pump(seconds):
    """The program between two commands: its select() loop runs (unless paused)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reap()
        left = max(0.0, deadline - time.monotonic())
        if PAUSED:
            time.sleep(min(left, 0.01))
        else:
            select_once(min(left, 0.05))
    reap()
    spun()


def wants_read(s):
    if "in" in s.busy:
        return False  # a thread is in recv() or accept(): the loop leaves it alone
    if s.sock.type == socket.SOCK_DGRAM:  # a bound UDP socket can receive
        return s.role != "new" and (s.auto_recv != "off" or s.watch_read)
    if s.watch_read and s.role in ("listening", "connected"):
        return True
    if s.role == "listening":
        return s.auto_accept
    return s.role == "connected" and s.auto_recv != "off" and not s.eof


def wants_write(s):
    if "out" in s.busy:
        return False
    if s.watch_write and s.role == "connected":
        return True
    return s.role == "connecting" or (s.role == "connected" and bool(s.outbox))


def select_once(timeout):
    """One turn of the loop: select(), then the calls that will not block now."""
    readers = [s for s in SOCKS.values() if wants_read(s)]
    writers = [s for s in SOCKS.values() if wants_write(s)]
    if not readers and not writers:
        return time.sleep(timeout)
    try:
        r, w, _ = select.select([s.sock for s in readers], [s.sock for s in writers], [], timeout)
    except (OSError, ValueError):
        return
    for s in [s for s in writers if s.sock in w and SOCKS.get(s.name) is s]:
        if s.role == "connecting":
            finish_connect(s)
        elif s.outbox:
            send_some(s, "[loop] ")
        else:
            s.spins += 1  # only watched: writable, and nothing to send
    for s in [s for s in readers if s.sock in r]:
        if SOCKS.get(s.name) is not s:
            continue  # closed meanwhile
        if s.role == "listening" and s.auto_accept:
            loop_accept(s)
        elif s.role == "connected" and s.auto_recv != "off" and not s.eof:
            loop_recv(s)
        else:
            s.spins += 1  # only watched: readable, and the program does not read


def finish_connect(s):
    """A non-blocking connect() is over: SO_ERROR says how."""
    code, exc = perform(lambda sock: sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), s.sock)
    code = -1 if exc else code
    s.role = "connected" if code == 0 else "failed"
    text = "0 (connected)" if code == 0 else "%d (%s)" % (code, errno.errorcode.get(code, "?"))
    say("[loop] ", "%s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)" % s.name, text)


def send_some(s, tag):
    """One send() of what the first outbox entry still holds (a sendall, or an echo)."""
    box = s.outbox[0]
    data, start, sendall_line = box
    line = "%s.send(%s[%d:])" % (s.name, "view" if sendall_line else "echo", start)
    n, exc = perform(lambda sock: sock.send(memoryview(data)[start:], DONTWAIT), s.sock)
    say(tag, line, errname(exc) if exc else n)
    if exc is None:
        box[1] += n
        s.sent += n
        if box[1] == len(data):
            s.outbox.pop(0)
            if sendall_line:
                say("[loop] ", sendall_line, "None")
    elif not isinstance(exc, BlockingIOError):
        s.outbox.clear()  # EPIPE, ECONNRESET: nothing more will go through
        if sendall_line:
            say("[loop] ", sendall_line, errname(exc))


def loop_recv(s):
    if s.sock.type == socket.SOCK_DGRAM:
        return loop_recvfrom(s)
    data, exc = perform(lambda sock: sock.recv(s.bufsize, DONTWAIT), s.sock)
    result = errname(exc) if exc else received(s, data)
    say("[loop] ", "data = %s.recv(%d)" % (s.name, s.bufsize), result)
    if exc is not None and not isinstance(exc, BlockingIOError):
        s.eof = True  # a dead connection: stop reading it
    elif data and s.auto_recv == "echo":
        s.outbox.append([data, 0, None])


def loop_recvfrom(s):
    """One datagram; an echo sends it back whole to where it came from."""
    value, exc = perform(lambda sock: sock.recvfrom(s.bufsize, DONTWAIT), s.sock)
    result = errname(exc) if exc else after("recvfrom", s.name, s, "", value, None)
    say("[loop] ", "data, address = %s.recvfrom(%d)" % (s.name, s.bufsize), result)
    if exc is None and s.auto_recv == "echo":
        data, sender = value
        done, exc = perform(lambda sock: sock.sendto(data, DONTWAIT, sender), s.sock)
        line = "%s.sendto(data, %r)" % (s.name, sender[:2])
        say("[loop] ", line, errname(exc) if exc else repr(done))


def loop_accept(s):
    value, exc = perform(lambda sock: sock.accept(), s.sock)
    name = free_name()
    result = errname(exc) if exc else accepted(s, value, name)
    say("[loop] ", "%s, addr = %s.accept()" % (name, s.name), result)


def finish():
    """The end: the loop runs a little longer, then every socket is closed."""
    pump(0.3)
    print("# the end: close every socket (a thread still blocked is woken by shutdown())")
    for s in list(SOCKS.values()):
        if s.busy:
            perform(lambda sock: sock.shutdown(socket.SHUT_RDWR), s.sock)
        if s.file is not None:
            perform(lambda file: file.close(), s.file)  # else close() leaves the fd open
        value, exc = perform(lambda sock: sock.close(), s.sock)
        say("[end] ", "%s.close()" % s.name, errname(exc) if exc else value)
    SOCKS.clear()
    deadline = time.monotonic() + 1
    while BLOCKED and time.monotonic() < deadline:
        reap("[end] ")
        time.sleep(0.01)
    for entry in BLOCKED:
        say("[end] ", entry[3], "... still blocked (its thread ends with the program)")
'''
