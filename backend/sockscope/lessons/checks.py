"""Claim checks: pure functions of what a lesson run recorded (events, observations, data).

Each returns ``(passed, observed)``: ``passed`` is None while the run has not
produced the evidence yet, and ``observed`` says in words what the kernel did,
quoting the calls (never a hard-coded result).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sockscope.events import (
    CallEvent,
    CallStartedEvent,
    Event,
    LingerEvent,
    ProbeEvent,
    SocketEvent,
    SocketInfo,
)
from sockscope.lessons import wire
from sockscope.workbench import fdlimit

Verdict = tuple[bool | None, str]


@dataclass(slots=True)
class RunRecord:
    events: list[Event] = field(default_factory=list)
    observations: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    now_ns: int = 0

    def calls(self, socket: str | None = None, op: str | None = None) -> list[CallEvent]:
        return [
            e
            for e in self.events
            if isinstance(e, CallEvent)
            and (socket is None or e.socket == socket)
            and (op is None or e.op == op)
        ]


def _said(call: CallEvent) -> str:
    return f"{call.line} -> {call.result_text}"


def listener_moves_no_data(run: RunRecord, *, listener: str) -> Verdict:
    """Claim 1: a listening socket makes connected sockets; it does not send or receive."""
    data_calls = [c for c in run.calls(listener) if c.op in ("send", "recv", "sendall")]
    accepts = [c for c in run.calls(listener, "accept") if c.errno is None]
    if not data_calls or not accepts:
        return None, "not yet: the lesson has not tried both accept() and send/recv on it"
    moved = [c for c in data_calls if c.errno is None]
    new = ", ".join(str(c.result["socket"]) for c in accepts if isinstance(c.result, dict))
    observed = "; ".join(_said(c) for c in data_calls[:2]) + f"; accept() made: {new}"
    return not moved, observed


def bind_address_decides(
    run: RunRecord, *, specific: str, refused: str, wildcard: str, via_other: str
) -> Verdict:
    """Claim 2: a server bound to 127.0.0.1 is reachable there only; 0.0.0.0 everywhere.

    ``refused`` connected to another address of this machine (127.0.0.2) on the port of
    ``specific``; ``via_other`` is the connection ``wildcard`` accepted through that same
    other address; and a bind of ``wildcard`` to 0.0.0.0 on the port of ``specific`` clashed.
    """
    home = _info_of(run, specific)
    tried = next((c for c in run.calls(refused, "connect") if c.errno != "EINPROGRESS"), None)
    wild = _info_of(run, wildcard)
    other = _info_of(run, via_other)
    if home is None or home.local is None or tried is None or other is None or wild is None:
        return None, "not yet: the two servers have not both been tried from another address"
    parts = [f"{specific} listens on {_addr(home.local)}", _said(tried)]
    port = home.local[1]
    clash = next((c for c in run.calls(wildcard, "bind") if f"'0.0.0.0', {port})" in c.line), None)
    parts.append(_said(clash) if clash else f"{wildcard} never tried 0.0.0.0 on {specific}'s port")
    parts.append(
        f"{wildcard} listens on {_addr(wild.local)}; {via_other} is local to {_addr(other.local)}"
    )
    reached_other = (
        other.local is not None and other.local[0] != home.local[0] and wild.local is not None
        and wild.local[0] == "0.0.0.0" and other.local[1] == wild.local[1]
    )  # fmt: skip
    passed = (
        home.local[0] == "127.0.0.1"
        and tried.errno == "ECONNREFUSED"
        and clash is not None
        and clash.errno == "EADDRINUSE"
        and reached_other
    )
    return passed, "; ".join(parts)


def _info_of(run: RunRecord, name: str) -> SocketInfo | None:
    """The newest SocketInfo recorded for socket ``name`` (None: never seen)."""
    for e in reversed(run.events):
        if isinstance(e, SocketEvent) and e.info.name == name:
            return e.info
    return None


def _local_of(run: RunRecord, name: str) -> tuple[str, int] | None:
    info = _info_of(run, name)
    return info.local if info else None


def _addr(address: tuple[str, int] | None) -> str:
    return f"{address[0]}:{address[1]}" if address else "?"


def ephemeral_ports(run: RunRecord, *, clients: list[str], listener: str) -> Verdict:
    """Claim 4: each client gets a port of its own; each accepted socket its own 4-tuple.

    The clients never called bind(): their ports are the kernel's choice. Each must be
    the peer of exactly one socket ``listener`` accepted, whose local address is the
    listener's own: the 4-tuples differ only in the client's port.
    """
    server = _local_of(run, listener)
    infos = [_info_of(run, c) for c in clients]
    accepted = [
        e.info for e in run.events if isinstance(e, SocketEvent) and e.info.listener == listener
    ]
    latest = {info.name: info for info in accepted}
    if (
        server is None
        or any(i is None or i.local is None for i in infos)
        or len(latest) < len(clients)
    ):
        return None, "not yet: both clients must be connected and accepted"
    tuples: list[str] = []
    problems: list[str] = []
    for info in infos:
        assert info is not None and info.local is not None
        if run.calls(info.name, "bind"):
            problems.append(f"{info.name} chose its own port with bind()")
        peers = [a for a in latest.values() if a.peer == info.local]
        if len(peers) != 1:
            problems.append(f"{len(peers)} accepted sockets have {_addr(info.local)} as peer")
            continue
        conn = peers[0]
        if conn.local != (server[0], server[1]) or info.peer != conn.local:
            problems.append(
                f"{conn.name} is local to {_addr(conn.local)}, not {listener}'s address"
            )
        tuples.append(f"{conn.name}: {_addr(conn.local)} <-> {_addr(info.local)} ({info.name})")
    ports = [i.local[1] for i in infos if i and i.local]
    if len(set(ports)) != len(ports):
        problems.append("two clients share a port")
    observed = f"client ports {ports}; 4-tuples: {'; '.join(tuples)}"
    if problems:
        observed += "; but " + "; ".join(problems)
    return not problems, observed


def backlog_queue(run: RunRecord, *, listener: str, backlog: int, clients: list[str]) -> Verdict:
    """Claim 3: past the backlog, connections wait (SYN dropped) until accept() frees room.

    Before the first accept(), the accept queue peaked at backlog + 1 and every other client
    was still in SYN_SENT; none of them was refused.
    """
    accepts = run.calls(listener, "accept")
    if not accepts:
        return None, "not yet: the queue has not been looked at before accept()"
    before = accepts[0].seq
    peak = max(
        (e.figures.accept_queue or 0 for e in run.events
         if isinstance(e, ProbeEvent) and e.socket == listener and e.seq < before),
        default=0,
    )  # fmt: skip
    last_state: dict[str, str] = {}
    for e in run.events:
        if isinstance(e, ProbeEvent) and e.socket in clients and e.seq < before:
            last_state[e.socket] = e.figures.state
    waiting = sorted(name for name, state in last_state.items() if state == "SYN_SENT")
    refused = [c for c in run.calls(op="connect") if c.socket in clients and c.errno
               not in (None, "EINPROGRESS")]  # fmt: skip
    observed = (
        f"before accept(): accept queue {peak} with backlog {backlog};"
        f" {len(waiting)} client(s) still in SYN_SENT: {', '.join(waiting) or 'none'}"
    )
    if refused:
        observed += "; " + "; ".join(_said(c) for c in refused)
    passed = peak == backlog + 1 and len(waiting) == len(clients) - peak and not refused
    said = []
    for name in waiting:  # the SYN the full queue dropped, sent again by the client's kernel
        again = wire.first(run.events, name, "SYN", note="retransmission")
        if again is not None:
            said.append(f"{name}'s SYN again (frame {again.frame}): the first was dropped, no RST")
    reset = next((e for e in wire.segments(run.events)
                  if e.sender == listener and "RST" in e.flags), None)  # fmt: skip
    if reset is not None:
        return False, observed + f"; on the wire: {wire.name(reset)}: refused, not queued"
    return passed, wire.cite(observed, said, run.events, listener, *clients)


def dropped_final_ack(run: RunRecord, *, listener: str, backlog: int, late: list[str]) -> Verdict:
    """Claim 3, the race: one free slot, two waiting clients. Both finish their side of the
    handshake and say ESTABLISHED, but the server keeps one final ACK and drops the other:
    the dropped client's bytes stay unacknowledged (retransmitted) until accept() makes room.
    """
    accepts = [c for c in run.calls(listener, "accept") if c.errno is None]
    if len(accepts) < 2:
        return None, "not yet: accept() has not run twice"
    first, second = accepts[0].seq, accepts[1].seq
    probes = [e for e in run.events if isinstance(e, ProbeEvent)]
    between = [e for e in probes if first < e.seq < second]
    state = {name: "?" for name in late}
    stuck: dict[str, tuple[int, int]] = {}  # name -> (send queue, retransmissions), at most
    full = 0
    for e in between:
        if e.socket == listener:
            full = max(full, e.figures.accept_queue or 0)
        elif e.socket in late:
            state[e.socket] = e.figures.state
            queued, retrans = e.figures.send_queue or 0, e.figures.total_retrans or 0
            if queued and retrans:
                was = stuck.get(e.socket, (0, 0))
                stuck[e.socket] = (max(was[0], queued), max(was[1], retrans))
    connected = [n for n, s in state.items() if s == "ESTABLISHED"]
    observed = (
        f"after one accept(): {', '.join(f'{n} {s}' for n, s in state.items())};"
        f" {listener}'s accept queue back at {full} (backlog {backlog})"
    )
    if not stuck:
        return False, observed + "; every late client's bytes were acknowledged at once"
    name, (queued, retrans) = max(stuck.items(), key=lambda kv: kv[1][1])
    later = [e for e in probes if e.seq > second and e.socket == name]
    drained = next((e for e in later if e.figures.send_queue == 0), None)
    observed += (
        f"; {name}'s {queued} bytes waited unacknowledged ({retrans} retransmissions)"
        + (" until the second accept() made room: then acknowledged" if drained else
           ", even after the second accept()")
    )  # fmt: skip
    passed = len(connected) == len(late) and full == backlog + 1 and drained is not None
    return passed, observed


def ipc_faster_than_tcp(run: RunRecord) -> Verdict:
    """Claim 5: a Unix socket and a pipe each move the same bytes faster than TCP over loopback.

    Compared on each channel's fastest run: on a shared machine the slow runs measure
    the neighbours, the fastest what the channel can do.
    """
    results = run.data.get("ipc")
    if not results:
        return None, "not yet: the IPC comparison has not run"
    speed = {r["channel"]: r["bytes"] / min(r["runs_s"]) / 1e6 for r in results}
    # Both must beat TCP: the claim is about either road, not the better of the two.
    slower = min(speed.get("unix", 0.0), speed.get("pipe", 0.0))
    observed = "best runs: " + ", ".join(f"{k} {v:.0f} MB/s" for k, v in speed.items())
    return slower > speed.get("tcp", float("inf")), observed


def flush_needed(run: RunRecord, *, before: str, after: str, size: int) -> Verdict:
    """Claim 6: written bytes sit in the file's buffer until flush()."""
    if before not in run.observations or after not in run.observations:
        return None, "not yet: write() and flush() have not both run"
    b, a = run.observations[before], run.observations[after]
    observed = f"peer's receive queue: {b} bytes after write(), {a} after flush()"
    return b == 0 and a == size, observed


def partial_transfer(run: RunRecord, *, sender: str, receiver: str) -> Verdict:
    """Claim 7: send() and recv() may handle fewer bytes than asked."""
    sends = [c for c in run.calls(sender, "send") if c.done is not None and c.asked]
    recvs = [c for c in run.calls(receiver, "recv") if c.done and c.asked]
    short_send = next((c for c in sends if 0 < (c.done or 0) < (c.asked or 0)), None)
    short_recv = next((c for c in recvs if (c.done or 0) < (c.asked or 0)), None)
    if not sends:
        return None, "not yet: nothing was sent"
    parts = []
    if short_send:
        parts.append(f"{_said(short_send)} (asked {short_send.asked})")
    if short_recv:
        parts.append(f"{short_recv.line} -> {short_recv.done} bytes (asked {short_recv.asked})")
    if not parts:
        return False, "every send() took all it was given: " + _said(sends[-1])
    return short_send is not None, "; ".join(parts)


def _peer_end(run: RunRecord, peer: str) -> CallEvent | None:
    """The peer's first successful close(), abort or shutdown(SHUT_WR / SHUT_RDWR)."""
    for c in run.calls(peer):
        if c.errno is None and (
            c.op in ("close", "abort") or (c.op == "shutdown" and "SHUT_RD)" not in c.line)
        ):
            return c
    return None


def _states(run: RunRecord, socket: str, after: int = 0, before: int | None = None) -> list[str]:
    return [
        e.figures.state
        for e in run.events
        if isinstance(e, ProbeEvent) and e.socket == socket and e.seq > after
        and (before is None or e.seq < before)
    ]  # fmt: skip


def empty_means_closed(run: RunRecord, *, socket: str, peer: str) -> Verdict:
    """Claim 8: recv() returns b'' once the peer closed; the socket sits in CLOSE_WAIT.

    The first b'' must come after the peer's close (or SHUT_WR), never before; the socket
    was ESTABLISHED before it and in CLOSE_WAIT after it: the FIN is what changed.
    """
    empties = [c for c in run.calls(socket, "recv") if c.done == 0 and c.errno is None]
    if not empties:
        return None, "not yet: no recv() has returned b''"
    end = _peer_end(run, peer)
    first = empties[0]
    if end is None or first.seq < end.seq:
        return False, f"{_said(first)}, but {peer} had not closed: this b'' is not its FIN"
    before, after = _states(run, socket, before=end.seq), _states(run, socket, after=end.seq)
    observed = (
        f"{_said(end)}; then {_said(first)}; {socket} was {before[-1] if before else '?'},"
        f" then {after[-1] if after else '?'}"
    )
    passed = bool(before) and before[-1] == "ESTABLISHED" and "CLOSE_WAIT" in after
    fin = wire.first(run.events, peer, "FIN", receiver=socket)
    said = [f"{wire.name(fin)}, the segment that b'' stands for"] if fin else []
    return passed, wire.cite(observed, said, run.events, socket, peer)


def recv_waits(run: RunRecord, *, socket: str, peer: str, seconds: float) -> Verdict:
    """Claim 9: on a silent, open connection a blocking recv() just waits.

    The longest recv() must have waited at least ``seconds`` with the connection
    ESTABLISHED and ``peer`` sending nothing meanwhile, and ended only because the peer
    closed (b''), or still be waiting: not by a timeout, not by data.
    """
    started = [e for e in run.events if isinstance(e, CallStartedEvent)
               and e.socket == socket and e.op == "recv"]  # fmt: skip
    if not started:
        return None, "not yet: no blocking recv() was made"
    ended = {c.call_id: c for c in run.calls(socket, "recv")}

    def waited(call: CallStartedEvent) -> float:
        done = ended.get(call.call_id)
        return (done.duration_ns if done else run.now_ns - call.t_ns) / 1e9

    call = max(started, key=waited)
    longest, done = waited(call), ended.get(call.call_id)
    if longest < seconds and done is None:
        return None, f"not yet: {call.line} still blocked after {longest:.1f} s"
    end_seq = done.seq if done else 1 << 62
    talk = [c for c in run.calls(peer) if c.op in ("send", "sendall") and c.done
            and call.seq < c.seq < end_seq]  # fmt: skip
    # Probes are recorded when a figure changes: the state at the start is the last before.
    states = _states(run, socket, before=call.seq)[-1:] + _states(
        run, socket, after=call.seq, before=end_seq
    )
    closed = _peer_end(run, peer)
    observed = (
        f"{call.line} waited {longest:.1f} s, then -> {done.result_text}"
        if done
        else f"{call.line} still blocked after {longest:.1f} s"
    )
    observed += f"; {socket} was {', '.join(dict.fromkeys(states)) or '?'} meanwhile"
    if talk:
        return False, observed + f"; but {peer} was not silent: {_said(talk[0])}"
    if done is not None and not (
        done.done == 0 and done.errno is None and closed is not None and closed.seq < done.seq
    ):
        return False, observed + f"; it ended without {peer} closing"
    silent_open = bool(states) and states[0] == "ESTABLISHED"
    return longest >= seconds and silent_open, observed


def framing_recovers_messages(run: RunRecord) -> Verdict:
    """Claim 10: only a framing rule gets the messages back from the stream.

    Every framed receiver got its messages back, and the naive one (one recv() = one
    message) broke where the kernel, not the lesson, cut the stream: in a run with one
    send() per message, the recv() calls did not match the send() calls.
    """
    results = run.data.get("framing")
    if not results:
        return None, "not yet: the framing workbench has not run"
    framed_ok = all(r["framed_ok"] for r in results)
    by_kernel = [r for r in results if r["mode"] == "back_to_back" and not r["naive_ok"]
                 and len(r["chunks"]) != len(r["sent"])]  # fmt: skip
    observed = "; ".join(f"{r['strategy']} ({r['mode']}): {r['verdict']}" for r in results)
    if framed_ok and not by_kernel:
        observed += "; the naive receiver broke only where the lesson itself sliced the stream"
    for r in by_kernel[:1]:
        observed += (
            f"; {len(r['sent'])} send() calls, one per message, came out of"
            f" {len(r['chunks'])} recv() call(s)"
        )
    return framed_ok and bool(by_kernel), observed


def glued(run: RunRecord, *, sender: str, receiver: str) -> Verdict:
    """Claim 11: two sends can come out of one recv()."""
    sends = [c for c in run.calls(sender, "send") if c.data and c.done]
    recvs = [c for c in run.calls(receiver, "recv") if c.data and c.done]
    if not sends or not recvs:
        return None, "not yet: nothing was sent and received"
    for r in recvs:
        assert r.data is not None
        lo, hi = r.data.offset, r.data.offset + r.data.len
        spanned = [s for s in sends if s.data and s.data.offset < hi
                   and s.data.offset + s.data.len > lo]  # fmt: skip
        if len(spanned) >= 2:
            return True, f"{len(spanned)} send() calls came out of one: {_said(r)}"
    return False, "every recv() got at most one send(): " + _said(recvs[-1])


def _stream(run: RunRecord, socket: str) -> bytes:
    """What ``socket`` sent, as far as the recorded sends show every byte."""
    out = bytearray()
    for c in run.calls(socket):
        whole = c.data is not None and c.data.hex is not None and c.data.offset == len(out)
        if c.op in ("send", "sendall") and c.done and whole:
            assert c.data is not None and c.data.hex is not None
            out += bytes.fromhex(c.data.hex)[: c.done]
    return bytes(out)


def split_prefix(
    run: RunRecord, *, sender: str, receiver: str, message: str, prefix: int
) -> Verdict:
    """Claim 12: a length prefix can arrive in pieces.

    ``message`` (prefix included) is found in what ``sender`` sent; the receiver's recv()
    that began at its first byte must have got fewer than the ``prefix`` bytes.
    """
    at = _stream(run, sender).find(message.encode())
    if at < 0:
        return None, f"not yet: {sender} has not sent {message!r}"
    recvs = [c for c in run.calls(receiver, "recv")
             if c.data and c.done and c.data.offset == at and (c.asked or 0) >= prefix]  # fmt: skip
    if not recvs:
        return None, "not yet: the prefix has not been read"
    first = recvs[0]
    got = first.done or 0
    observed = f"the recv() at byte {at} got {got} of the {prefix}-byte prefix: {_said(first)}"
    return 0 < got < prefix, observed


def sendall_takes_many_sends(run: RunRecord, *, socket: str) -> Verdict:
    """Claim 13: under load one pass of send() does not get rid of everything."""
    done = [c for c in run.calls(socket, "sendall") if c.errno is None and c.done]
    if not done:
        return None, "not yet: sendall() has not finished"
    began = done[0].started_ns
    sends = [c for c in run.calls(socket, "send") if c.done and c.started_ns >= began
             and c.seq < done[0].seq]  # fmt: skip
    partial = [c for c in sends if (c.done or 0) < (c.asked or 0)]
    observed = (
        f"sendall() of {done[0].asked} bytes took {len(sends)} send() calls, {len(partial)} partial"
    )
    return len(sends) > 1 and bool(partial), observed


def byte_order_matters(run: RunRecord) -> Verdict:
    """Claim 14: the same int is different bytes in network and little-endian order.

    Two runs of the workbench with the same value, one packed with '!' and one with '<':
    the bytes that crossed the wire differ (each the other reversed), and each run read
    back right only with its own order.
    """
    runs = {r["fmt"][0]: r for r in run.data.get("byteorder") or []}
    network, little = runs.get("!"), runs.get("<")
    if network is None or little is None:
        return None, "not yet: the value has not crossed the wire in both byte orders"
    observed = "; ".join(
        f"{r['value']} packed as {r['fmt']!r} crossed the wire as {r['wire']},"
        f" read back right: {r['right']}, with the other order: {r['wrong']}"
        for r in (network, little)
    )
    same_value = network["value"] == little["value"]
    wire_n, wire_l = network["wire"].split(), little["wire"].split()
    reversed_bytes = wire_n == wire_l[::-1] and wire_n != wire_l
    each_right = all(r["right"] == r["value"] != r["wrong"] for r in (network, little))
    return same_value and reversed_bytes and each_right, observed


# -- Lessons II: endings, failures, select() -------------------------------------------------


def half_close(run: RunRecord, *, closer: str, peer: str) -> Verdict:
    """Claim 15: after shutdown(SHUT_WR) the peer reads b'' and can still answer."""
    shut = [c for c in run.calls(closer, "shutdown") if c.errno is None and "SHUT_WR" in c.line]
    if not shut:
        return None, f"not yet: {closer} has not called shutdown(SHUT_WR)"
    after = shut[0].seq
    eof = [c for c in run.calls(peer, "recv") if c.seq > after and c.done == 0 and c.errno is None]
    # The reply must be sent after the peer saw the end, and read by the closer after that.
    tried = [c for c in run.calls(peer, "send") if eof and c.seq > eof[0].seq]
    if tried and tried[0].errno is not None:  # the peer could not answer: not a half-close
        return False, f"{_said(eof[0])}; then {_said(tried[0])}"
    sent = [c for c in tried if c.done]
    replies = [c for c in run.calls(closer, "recv") if sent and c.seq > sent[0].seq
               and (c.done or 0) > 0]  # fmt: skip
    if not eof or not replies:
        return None, "not yet: the peer has not read b'' and answered"
    observed = f"{_said(shut[0])}; then {_said(eof[0])}; then {_said(replies[0])}"
    fin = wire.first(run.events, closer, "FIN")
    said = []
    if fin is not None:
        said.append(wire.name(fin))
        back = wire.first(run.events, peer, "data", receiver=closer, after_ns=fin.wire_ns)
        if back is not None:
            said.append(f"{wire.name(back)} the other way, after that FIN")
    return True, wire.cite(observed, said, run.events, closer, peer)


def close_wait_lingers(run: RunRecord, *, first: str, later: str) -> Verdict:
    """Claim 16: a socket whose peer closed stays in CLOSE_WAIT until it closes too."""
    if first not in run.observations or later not in run.observations:
        return None, "not yet: the socket has not been watched twice after its peer closed"
    a, b = run.observations[first], run.observations[later]
    return a == b == "CLOSE_WAIT", f"state after the peer closed: {a}; a while later: {b}"


def close_is_not_the_end(run: RunRecord, *, closer: str, peer: str) -> Verdict:
    """Claim 16: close() returns at once, and the kernel keeps the connection: FIN_WAIT2
    while the peer has not closed, TIME_WAIT once it has."""
    closed = next((c for c in run.calls(closer, "close") if c.errno is None), None)
    if closed is None:
        return None, f"not yet: {closer} has not closed"
    kept = [e for e in run.events if isinstance(e, LingerEvent) and e.socket == closer
            and e.seq > closed.seq]  # fmt: skip
    peer_closed = next((c for c in run.calls(peer, "close") if c.errno is None), None)
    waiting = [e for e in kept if e.state == "FIN_WAIT2"
               and (peer_closed is None or e.seq < peer_closed.seq)]  # fmt: skip
    timed = [e for e in kept if e.state == "TIME_WAIT" and peer_closed and e.seq > peer_closed.seq]
    states = " -> ".join(str(e.state) for e in kept) or "nothing"
    observed = (
        f"{_said(closed)} in {closed.duration_ns / 1e6:.2f} ms; the kernel kept the"
        f" connection: {states}"
    )
    if peer_closed is None and not waiting:
        return None, f"not yet: {observed}"
    said = []
    fin = wire.first(run.events, closer, "FIN")
    if fin is not None:
        said.append(f"{wire.name(fin)} as close() returned")
        theirs = wire.first(run.events, peer, "FIN")
        if theirs is not None and peer_closed is not None:
            said.append(f"{wire.name(theirs)} only after {_said(peer_closed)}")
    return bool(waiting) and bool(timed), wire.cite(observed, said, run.events, closer, peer)


def dead_peer_hangs(
    run: RunRecord, *, socket: str, peer: str, state: str, seconds: float
) -> Verdict:
    """Claim 17: a peer gone without FIN or RST: recv() hangs on an ESTABLISHED connection.

    Not a silent, live peer (lesson 04): ``peer`` closed before the recv() began, and
    still no FIN arrived; the recv() ended only by the program's own timeout.
    """
    timeouts = [c for c in run.calls(socket, "recv") if c.errno == "timeout"]
    seen = run.observations.get(state)
    gone = _peer_end(run, peer)
    if not timeouts:
        ended = [c for c in run.calls(socket, "recv") if c.seq > 0 and c.duration_ns > 0]
        if ended and seen is not None:
            return False, f"the recv() ended without the program's timeout: {_said(ended[-1])}"
        return None, "not yet: no recv() has timed out"
    call = timeouts[0]
    waited = call.duration_ns / 1e9
    observed = f"{_said(call)} after {waited:.1f} s; the kernel said {seen} meanwhile"
    if gone is None or gone.seq > call.seq:
        return False, observed + f"; but {peer} was alive: it had not closed"
    observed = f"{_said(gone)}; then " + observed
    waiting = (call.started_ns, call.started_ns + call.duration_ns)  # while recv() waited
    told = [e for e in wire.segments(run.events) if e.receiver == socket
            and waiting[0] <= e.wire_ns <= waiting[1]
            and ("FIN" in e.flags or "RST" in e.flags)]  # fmt: skip
    if told:
        return False, observed + f"; but on the wire: {wire.name(told[0])} reached {socket}"
    said = []
    if wire.captured(run.events, socket):
        said = [f"no FIN and no RST reached {socket} while it waited: nothing told it the peer"
                " was gone"]  # fmt: skip
    return waited >= seconds and seen == "ESTABLISHED", wire.cite(
        observed, said, run.events, socket
    )


def tcp_gives_up(run: RunRecord, *, socket: str, peer_state: str) -> Verdict:
    """Claim 17, for real: segments lost, TCP retransmits, then gives up with ETIMEDOUT.

    ``peer_state`` names an observation: the far side's TCP state once it was over.
    """
    ended = [c for c in run.calls(socket, "recv") if c.duration_ns > 0 or c.errno]
    if not ended:
        return None, f"not yet: {socket} has not finished a recv()"
    call = ended[-1]
    retrans = max(
        (e.figures.total_retrans or 0 for e in run.events
         if isinstance(e, ProbeEvent) and e.socket == socket),
        default=0,
    )  # fmt: skip
    seen = run.observations.get(peer_state)
    observed = (
        f"{_said(call)} after {call.duration_ns / 1e9:.1f} s; TCP_INFO counted {retrans}"
        f" retransmission{'' if retrans == 1 else 's'} first; the far side said {seen}"
    )
    return call.errno == "ETIMEDOUT" and retrans >= 1 and seen == "ESTABLISHED", observed


def stuck_thread(run: RunRecord, *, socket: str, seconds: float) -> Verdict:
    """Claim 18: a thread in a blocking recv() is stuck until the program itself ends the wait.

    The recv() waited at least ``seconds`` with nothing arriving, then a shutdown() of that
    socket from outside was made while it still waited, and only then did it return b''.
    """
    started = [e for e in run.events if isinstance(e, CallStartedEvent) and e.socket == socket
               and e.op == "recv"]  # fmt: skip
    ended = {c.call_id: c for c in run.calls(socket, "recv")}
    shutdowns = [c for c in run.calls(socket, "shutdown") if c.errno is None]
    for call in reversed(started):
        done = ended.get(call.call_id)
        if done is None:
            waited = (run.now_ns - call.t_ns) / 1e9
            return None, f"{call.line} still blocked after {waited:.1f} s"
        woke = next((c for c in shutdowns if call.seq < c.seq < done.seq), None)
        observed = (
            f"{call.line} was stuck {done.duration_ns / 1e9:.1f} s, then -> {done.result_text}"
        )
        if woke is None:
            return False, observed + "; nothing outside the thread ended it"
        stuck_for = (woke.t_ns - call.t_ns) / 1e9
        after = (done.t_ns - woke.t_ns) / 1e9
        observed += (
            f"; {_said(woke)} came {stuck_for:.1f} s into the wait and the recv() returned"
            f" {after * 1000:.0f} ms later"
        )
        return (
            stuck_for >= seconds and done.done == 0 and done.errno is None and after < 1,
            observed,
        )
    return None, "not yet: no blocking recv() was made"


def nothing_done(run: RunRecord, *, listener: str, client: str) -> Verdict:
    """Claim 19: non-blocking accept, connect, recv and send can return having done nothing.

    Each must have failed at once (EAGAIN, EINPROGRESS) on a non-blocking socket; the
    send() only after earlier sends had filled the buffers (it copied nothing).
    """
    sends = [c for c in run.calls(client, "send") if c.via == "command"]
    full = next((c for c in sends if c.errno == "EAGAIN"), None)
    wanted = {
        "accept": [c for c in run.calls(listener, "accept") if c.errno == "EAGAIN"],
        "connect": [c for c in run.calls(client, "connect") if c.errno == "EINPROGRESS"],
        "recv": [c for c in run.calls(client, "recv") if c.errno == "EAGAIN"],
        "send": [full] if full is not None else [],
    }
    seen = [_said(calls[0]) for calls in wanted.values() if calls]
    missing = [k for k, calls in wanted.items() if not calls]
    if missing:
        if run.calls(listener, "accept") and "accept" in missing:
            return False, "accept() found a connection waiting: " + "; ".join(seen)
        if sends and "send" in missing and any(c.errno is None for c in sends):
            took = sum(c.done or 0 for c in sends)
            return False, f"every send() took bytes ({took} in all): " + "; ".join(seen)
        return None, f"not yet: no empty-handed {', '.join(missing)}"
    assert full is not None
    took = sum(c.done or 0 for c in sends if c.seq < full.seq)
    observed = "; ".join(seen) + f" (after {took} bytes had filled the buffers)"
    syn = wire.first(run.events, client, "SYN")
    said = []
    if syn is not None:
        answer = next((e for e in wire.segments(run.events) if e.receiver == client
                       and e.flags == "SYN ACK"), None)  # fmt: skip
        said.append(f"{wire.name(syn)} left as connect() returned EINPROGRESS")
        if answer is not None:
            ms = (answer.wire_ns - syn.wire_ns) / 1e6
            said.append(f"the SYN-ACK came {ms:.2f} ms later (frame {answer.frame})")
    return True, wire.cite(observed, said, run.events, listener, client)


def select_reports_ready(run: RunRecord, *, listener: str, connector: str) -> Verdict:
    """Claim 20: a listener turns readable when accept() will work; a connect, writable."""
    from sockscope.events import SelectEvent

    selects = [e for e in run.events if isinstance(e, SelectEvent)]
    readable = next((e for e in selects if listener in e.ready_readers), None)
    writable = next((e for e in selects if connector in e.ready_writers), None)
    if readable is None or writable is None:
        return None, "not yet: select() has not reported both"
    accept = next((c for c in run.calls(listener, "accept") if c.seq > readable.seq), None)
    check = next((c for c in run.calls(connector, "getsockopt") if c.seq > writable.seq), None)
    if accept is None or check is None:
        return None, "not yet: the loop has not acted on what select() said"
    observed = (
        f"select() #{readable.iteration}: {listener} readable, then {_said(accept)};"
        f" select() #{writable.iteration}: {connector} writable, then {_said(check)}"
    )
    return accept.errno is None and check.result == 0, observed


def writable_spins(run: RunRecord, *, socket: str, at_least: int) -> Verdict:
    """Claim 21: a healthy socket is almost always writable: kept in writers, select() spins."""
    from sockscope.events import SelectEvent

    spins = [e for e in run.events if isinstance(e, SelectEvent) and socket in e.writers]
    if not spins:
        return None, f"not yet: {socket} has not been in select()'s writers"
    ready = [e for e in spins if socket in e.ready_writers]
    quick = [e for e in ready if e.blocked_ns < 1_000_000]
    observed = (
        f"{len(spins)} select() calls with {socket} in writers: {len(ready)} said writable,"
        f" {len(quick)} of them in under a millisecond"
    )
    return len(quick) >= at_least, observed


def select_on_blocking(run: RunRecord, *, socket: str) -> Verdict:
    """Claim 22: select() says whether recv() would block, not whether the peer is done."""
    from sockscope.events import SelectEvent

    story: list[str] = []
    stage = 0  # 0: wait readable, 1: wait recv, 2: wait not-ready, 3: wait readable, 4: recv
    for e in run.events:
        if isinstance(e, SelectEvent) and socket in e.readers:
            ready = socket in e.ready_readers
            if stage in (0, 3) and ready:
                stage += 1
                story.append(f"select() #{e.iteration}: readable")
            elif stage == 2 and not ready:
                stage = 3
                story.append(f"select() #{e.iteration}: not readable, peer still connected")
        elif (
            isinstance(e, CallEvent)
            and e.socket == socket
            and e.op == "recv"
            and stage in (1, 4)
            and (e.done or 0) > 0
        ):
            story.append(_said(e))
            stage = 2 if stage == 1 else 5
    if stage < 5:
        return None, "not yet: " + ("; ".join(story) or "no select() on it")
    return True, "; ".join(story)


def three_shapes(run: RunRecord) -> Verdict:
    """Claim 23: a thread per connection, a process per connection, or one select() loop."""
    results = run.data.get("shapes")
    if not results:
        return None, "not yet: the three servers have not run"
    by = {r["shape"]: r for r in results}
    served = all(r["served"] == r["clients"] for r in results)
    n = results[0]["clients"]
    observed = "; ".join(
        f"{r['label']}: served {r['served']}/{r['clients']} in {r['seconds']:.2f} s with"
        f" {r['peak_workers']} worker(s), {r['peak_blocked']} blocked in recv() at once"
        for r in results
    )
    # Measured from the server's own calls (workbench/shapes.py): the blocking shapes need
    # a worker per client, each waiting in recv(); the select() loop one, never waiting.
    shaped = (
        by["thread"]["peak_workers"] == n
        and by["process"]["peak_workers"] == n
        and by["thread"]["peak_blocked"] >= 1
        and by["process"]["peak_blocked"] >= 1
        and by["select"]["peak_workers"] == 1
        and by["select"]["peak_blocked"] == 0
    )
    return served and shaped, observed


# -- Beyond the HOWTO --------------------------------------------------------------------


def _kept(run: RunRecord, socket: str) -> list[str | None]:
    """The states the closed-connection watch saw for ``socket`` (None: gone)."""
    return [e.state for e in run.events if isinstance(e, LingerEvent) and e.socket == socket]


def _bind_of(run: RunRecord, socket: str) -> CallEvent | None:
    return next(iter(run.calls(socket, "bind")), None)


def time_wait_holds_the_port(
    run: RunRecord, *, closer: str, plain: str, new_only: str, closer2: str, both: str
) -> Verdict:
    """Claim 24: the side that closes first keeps TIME_WAIT, which holds the port; a new
    bind needs SO_REUSEADDR on the new socket and on the one in TIME_WAIT.

    ``closer`` closed first without SO_REUSEADDR: the binds of ``plain`` (no option) and
    ``new_only`` (the option on the new socket only) to its port failed with EADDRINUSE.
    ``closer2`` closed first with the option (from its listener): ``both`` bound its port.
    """
    binds = {name: _bind_of(run, name) for name in (plain, new_only, both)}
    if any(b is None for b in binds.values()):
        return None, "not yet: the restarted servers have not all tried to bind"
    parts = [f"{closer} closed first: kept as {' -> '.join(map(str, _kept(run, closer)))}"]
    parts += [_said(b) for b in binds.values() if b is not None]
    parts.append(f"{closer2} kept as {' -> '.join(map(str, _kept(run, closer2)))}")
    waited = "TIME_WAIT" in _kept(run, closer) and "TIME_WAIT" in _kept(run, closer2)
    plain_b, only_b, both_b = binds[plain], binds[new_only], binds[both]
    assert plain_b is not None and only_b is not None and both_b is not None
    refused = plain_b.errno == "EADDRINUSE" and only_b.errno == "EADDRINUSE"
    return waited and refused and both_b.errno is None, "; ".join(parts)


def reset_instead_of_fin(
    run: RunRecord, *, unread: str, peer: str, aborted: str, peer2: str
) -> Verdict:
    """Claim 25: a close() with unread data, or an abort (SO_LINGER 0), sends a RST: the
    peer's recv() fails with ECONNRESET and the closer keeps no TIME_WAIT.

    ``unread`` had bytes in its receive queue when it closed (its last probe says so).
    """
    closed = next((c for c in run.calls(unread, "close") if c.errno is None), None)
    # The lab's abort is two calls: setsockopt(SO_LINGER, (1, 0)), then close().
    linger = next((c for c in run.calls(aborted, "setsockopt") if "SO_LINGER" in c.line), None)
    abort = next(
        (c for c in run.calls(aborted, "close") if linger and c.seq > linger.seq and not c.errno),
        None,
    )
    if closed is None or abort is None:
        return None, "not yet: both connections have not been ended"
    queued = [e.figures.recv_queue or 0 for e in run.events if isinstance(e, ProbeEvent)
              and e.socket == unread and e.seq < closed.seq]  # fmt: skip
    left = queued[-1] if queued else 0
    heard = [c for c in run.calls(peer, "recv") if c.seq > closed.seq]
    heard2 = [c for c in run.calls(peer2, "recv") if c.seq > abort.seq]
    if not heard or not heard2:
        return None, "not yet: the peers have not read since"
    kept = _kept(run, unread) + _kept(run, aborted)
    observed = (
        f"{_said(closed)} with {left} bytes unread; then {_said(heard[0])};"
        f" {_said(linger) if linger else ''}; {_said(abort)};"
        f" then {_said(heard2[0])}; the kernel kept: {', '.join(map(str, kept)) or 'nothing'}"
    )
    resets = heard[0].errno == "ECONNRESET" and heard2[0].errno == "ECONNRESET"
    no_wait = not any(state in ("TIME_WAIT", "FIN_WAIT1", "FIN_WAIT2") for state in kept)
    return left > 0 and resets and no_wait, observed


def second_send_breaks(run: RunRecord, *, sender: str, peer: str) -> Verdict:
    """Claim 26: after the peer closed, the first send() returns, the next fails (EPIPE).

    Both sends come after the peer's close and after the sender saw its FIN (CLOSE_WAIT).
    """
    gone = _peer_end(run, peer)
    if gone is None:
        return None, f"not yet: {peer} has not closed"
    sends = [c for c in run.calls(sender) if c.op in ("send", "sendall") and c.seq > gone.seq]
    if len(sends) < 2:
        return None, "not yet: two sends have not been made since"
    first, second = sends[0], sends[1]
    states = _states(run, sender, before=first.seq)
    observed = (
        f"{_said(gone)}; {sender} was {states[-1] if states else '?'}; then {_said(first)};"
        f" then {_said(second)}"
    )
    full_close = gone.op in ("close", "abort")
    passed = (
        full_close
        and bool(states)
        and states[-1] == "CLOSE_WAIT"
        and first.errno is None
        and (first.done or 0) > 0
        and second.errno in ("EPIPE", "ECONNRESET")
    )
    return passed, observed


def keepalive_tells(
    run: RunRecord,
    *,
    idle_side: str,
    other: str,
    other_state: str,
    idle: float,
    interval: float,
    count: int,
) -> Verdict:
    """Claim 27: on an idle connection whose network died, only keepalive tells: the side
    with SO_KEEPALIVE gets ETIMEDOUT about IDLE + INTVL x CNT seconds later, having sent
    no data; the other side, without it, is still ESTABLISHED then and learns nothing."""
    ended = [c for c in run.calls(idle_side, "recv") if c.errno is not None or c.done]
    if not ended:
        return None, f"not yet: {idle_side}'s recv() has not ended"
    call = ended[0]
    waited = call.duration_ns / 1e9
    sent = [c for c in run.calls(idle_side) if c.op in ("send", "sendall") and c.done]
    state = run.observations.get(other_state)
    theirs = [c for c in run.calls(other, "recv") if c.seq > call.seq]
    budget = idle + interval * count
    observed = (
        f"{_said(call)} after {waited:.1f} s (keepalive's budget: {idle:g} + {interval:g} x"
        f" {count} = {budget:g} s); {other} was {state} then"
    )
    if theirs:
        observed += f", and its own recv() -> {theirs[0].result_text}"
    passed = (
        call.errno == "ETIMEDOUT"
        and not sent
        and waited <= budget + 2.0
        and state == "ESTABLISHED"
        and all(c.errno != "ETIMEDOUT" for c in theirs)
    )
    return passed, observed


def nagle_meets_delayed_ack(run: RunRecord) -> Verdict:
    """Claim 28: with Nagle on, two small writes then a read wait for the delayed ACK (tens
    of milliseconds); with TCP_NODELAY, or one write, a round is at least 10x faster."""
    rows = run.data.get("nagle")
    if not rows:
        return None, "not yet: the rounds have not been timed"
    by = {r["way"]: r for r in rows}
    observed = "; ".join(f"{r['label']}: median {r['median_ms']:.2f} ms" for r in rows)
    slow = by["nagle"]["median_ms"]
    fast = max(by["nodelay"]["median_ms"], by["one_write"]["median_ms"])
    return slow >= 20 and fast * 10 < slow, observed


def select_fd_limit(run: RunRecord) -> Verdict:
    """Claim 29: select() cannot watch descriptor 1024 or above (ValueError in Python),
    while it can a low one, and poll() and epoll see the high one readable."""
    report = run.data.get("fdlimit")
    if not report:
        return None, "not yet: the descriptors have not been asked about"
    low, high = report["low"], report["high"]
    observed = fdlimit.describe(report)
    passed = (
        low["select"] == "readable"
        and high["fd"] >= 1024
        and high["select"].startswith("ValueError")
        and high["poll"] == high["epoll"] == "readable"
    )
    return passed, observed


def zero_window_probes(run: RunRecord, *, sender: str, receiver: str) -> Verdict:
    """Claim 30: the receiver's window fell to 0; the sender's bytes waited unsent while its
    probe timer backed off (backoff climbing), with nothing retransmitted; once the receiver
    read, the window opened again."""
    read = next((c for c in run.calls(receiver, "recv") if c.done), None)
    probes = [e for e in run.events if isinstance(e, ProbeEvent) and e.socket == sender]
    before = [e for e in probes if read is None or e.seq < read.seq]
    shut = [e for e in before if e.figures.snd_wnd == 0]
    if not shut:
        return None if read is None else False, f"{sender}'s window never fell to 0"
    unsent = max(e.figures.unsent or 0 for e in shut)
    backoff = max(e.figures.backoff or 0 for e in shut)
    retrans = max(e.figures.total_retrans or 0 for e in shut)
    observed = (
        f"{sender}'s window 0 with {unsent} bytes unsent; backoff climbed to {backoff};"
        f" {retrans} retransmissions"
    )
    if read is None:
        return None, "not yet: " + observed
    opened = next((e for e in probes if e.seq > read.seq and (e.figures.snd_wnd or 0) > 0), None)
    observed += f"; {_said(read)}; then the window was {opened.figures.snd_wnd if opened else 0}"
    return unsent > 0 and backoff >= 2 and retrans == 0 and opened is not None, observed


_READS = ("recv", "recvfrom")
_WRITES = ("send", "sendto", "sendall")


def datagrams_keep_edges(run: RunRecord, *, sender: str, receiver: str) -> Verdict:
    """Claim 31: UDP keeps each message whole: two sendto() are two reads, a read smaller
    than its datagram loses the rest (the next read does not get it), and a datagram of
    no bytes is a message like any other, after which more arrive.

    The reads are paired with the sends in order, as datagrams are; a stream fails the
    first test (one read takes both messages)."""
    sends = [c for c in run.calls(sender) if c.op in _WRITES and c.errno is None]
    reads = [c for c in run.calls(receiver) if c.op in _READS]
    got = [c for c in reads if c.errno is None]
    if len(sends) < 2 or not got or got[0].seq < sends[1].seq:
        return None, "not yet: two messages have not both been sent before a read"
    first = got[0]
    whole = sends[0].done or 0
    parts = [f"{len(sends)} sends, {len(got)} reads", f"{_said(first)} with two waiting"]
    kept = first.done == whole and (first.asked or 0) > whole
    cut = next(
        (
            (i, r)
            for i, r in enumerate(got)
            if i < len(sends) and r.done == r.asked and (r.done or 0) < (sends[i].done or 0)
        ),
        None,
    )
    if cut is None:
        return (None if kept else False), "; ".join(
            [*parts, "no read yet smaller than its message"]
        )
    i, short = cut
    after = next((r for r in reads if r.seq > short.seq), None)
    parts.append(f"{_said(short)} of a {sends[i].done}-byte message")
    if after is None:
        return None, "not yet: " + "; ".join(parts)
    parts.append(f"then {_said(after)}")
    tail = (sends[i].done or 0) - (short.done or 0)
    lost = after.errno == "EAGAIN" or (
        after.errno is None and i + 1 < len(sends) and after.done == sends[i + 1].done != tail
    )
    empty = next((r for r in got if r.done == 0), None)
    if empty is None:
        return None, "not yet: " + "; ".join(parts)
    later = next((r for r in got if r.seq > empty.seq and r.done), None)
    info = _info_of(run, receiver)
    parts.append(f"{_said(empty)}, then {_said(later) if later else 'nothing more'}")
    if later is None:
        return None, "not yet: " + "; ".join(parts)
    ended = info is not None and info.eof
    return kept and lost and not ended, "; ".join(parts)


def last_reference_sends_fin(
    run: RunRecord, *, closed: str, copy: str, peer: str, third: str
) -> Verdict:
    """Claim 32: close() gives up one reference to the kernel socket: with a dup() still
    open no FIN goes (the peer's recv() waits, its connection ESTABLISHED, the copy still
    sends); shutdown() acts on the connection and sends it though another reference is
    open."""
    made = [c for c in run.calls(closed, "dup") if c.errno is None]
    close = next((c for c in run.calls(closed, "close") if c.errno is None), None)
    if not made or close is None:
        return None, f"not yet: {closed} has not been dup()ed and closed"
    heard = [c for c in run.calls(peer) if c.op in _READS and c.seq > close.seq]
    if not heard:
        return None, f"not yet: {peer} has not read since {closed} closed"
    first = heard[0]
    parts = [_said(made[0]), _said(close), f"then {_said(first)}"]
    ended = first.errno == "ECONNRESET" or (first.errno is None and first.done == 0)
    if ended:  # the close() ended the connection: no other reference held it
        return False, "; ".join(parts)
    still = next((c for c in run.calls(copy) if c.op in _WRITES and c.seq > close.seq), None)
    delivered = next(
        (c for c in heard if still is not None and c.seq > still.seq and c.errno is None), None
    )
    # The peer's state as last probed before the copy sent (close() probes the peer at once,
    # so a FIN would have shown as CLOSE_WAIT by then).
    states = _states(run, peer, before=still.seq if still else None)[-1:]
    shut = next(
        (
            c
            for c in run.calls(copy, "shutdown")
            if c.errno is None and "SHUT_RD)" not in c.line and c.seq > close.seq
        ),
        None,
    )
    if still is None or delivered is None or shut is None:
        return None, "not yet: " + "; ".join(parts)
    held = [c for c in run.calls(copy, "dup") if c.errno is None and c.seq < shut.seq]
    third_closed = next((c for c in run.calls(third, "close") if c.errno is None), None)
    open_then = bool(held) and (third_closed is None or third_closed.seq > shut.seq)
    fin = next((c for c in run.calls(peer) if c.op in _READS and c.seq > shut.seq), None)
    parts += [
        f"{peer} was {states[0] if states else '?'}",
        f"{_said(still)} -> {peer} {_said(delivered)}",
        f"{_said(held[0]) if held else f'{copy} had no other reference'}; {_said(shut)}",
        f"then {_said(fin) if fin else 'no read'}",
    ]
    if fin is None:
        return None, "not yet: " + "; ".join(parts)
    passed = (
        bool(states)
        and states[0] == "ESTABLISHED"
        and (delivered.done or 0) > 0
        and open_then
        and fin.errno is None
        and fin.done == 0
    )
    return passed, "; ".join(parts)


def dual_stack(
    run: RunRecord, *, mapped: str, client4: str, native: str, only: str, refused: str
) -> Verdict:
    """Claim 33: an AF_INET6 socket bound to '::' with IPV6_V6ONLY off takes an IPv4
    client, which it sees as ::ffff:<its IPv4 address> (and an IPv6 one as itself); with
    IPV6_V6ONLY on, the IPv4 client finds nobody listening (ECONNREFUSED)."""
    conn, cli, six = _info_of(run, mapped), _info_of(run, client4), _info_of(run, native)
    tried = next((c for c in run.calls(refused, "connect") if c.errno != "EINPROGRESS"), None)
    if conn is None or cli is None or six is None or tried is None:
        return None, "not yet: the IPv4 and IPv6 clients have not all been tried"
    v6only = [
        c for c in run.calls(only, "setsockopt") if "IPV6_V6ONLY" in c.line and c.errno is None
    ]
    home = _info_of(run, only)
    parts = [
        f"{client4} ({cli.family}) is {_addr(cli.local)}; {mapped} ({conn.family}) sees it as"
        f" {_addr(conn.peer)}",
        f"{native} sees {_addr(six.peer)}",
        f"{_said(v6only[-1]) if v6only else f'{only} never set IPV6_V6ONLY'}; {_said(tried)}",
    ]
    as_mapped = (
        cli.family == "AF_INET"
        and conn.family == "AF_INET6"
        and cli.local is not None
        and conn.peer == (f"::ffff:{cli.local[0]}", cli.local[1])
    )
    native_ok = (
        six.family == "AF_INET6"
        and six.peer is not None
        and ":" in six.peer[0]
        and "." not in six.peer[0]  # a real IPv6 peer, not a mapped IPv4 one
    )
    only_on = bool(v6only) and v6only[-1].line.rstrip().endswith(", 1)")
    # The refused connect went to only6's own port (any closed port would refuse too).
    port = home.local[1] if home is not None and home.local else None
    aimed = port is not None and tried.line.rstrip().endswith(f", {port}))")
    refusal = tried.errno == "ECONNREFUSED" and aimed
    return as_mapped and native_ok and only_on and refusal, "; ".join(parts)
