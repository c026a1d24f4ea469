"""Claim checks: pure functions of what a lesson run recorded (events, observations, data).

Each returns ``(passed, observed)``: ``passed`` is None while the run has not
produced the evidence yet, and ``observed`` says in words what the kernel did,
quoting the calls (never a hard-coded result).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sockscope.events import CallEvent, CallStartedEvent, Event, ProbeEvent

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


def wildcard_covers_loopback(run: RunRecord, *, overlap: str, wildcard_conn: str) -> Verdict:
    """Claim 2: 0.0.0.0 means every address of the machine, 127.0.0.1 included."""
    clashes = [c for c in run.calls(overlap, "bind") if c.errno == "EADDRINUSE"]
    accepted = [c for c in run.calls(op="accept") if isinstance(c.result, dict)
                and c.result.get("socket") == wildcard_conn]  # fmt: skip
    if not accepted:
        return None, "not yet: no connection through the wildcard listener"
    local = _local_of(run, wildcard_conn)
    listener = _local_of(run, overlap)
    parts = [_said(clashes[0])] if clashes else [f"no bind of {overlap} clashed"]
    parts.append(f"{overlap} listens on {listener}; its connection is local to {local}")
    passed = bool(clashes) and local is not None and local[0] == "127.0.0.1"
    return passed and listener is not None and listener[0] == "0.0.0.0", "; ".join(parts)


def _local_of(run: RunRecord, name: str) -> tuple[str, int] | None:
    from sockscope.events import SocketEvent

    for e in reversed(run.events):
        if isinstance(e, SocketEvent) and e.info.name == name and e.info.local:
            return e.info.local
    return None


def ephemeral_ports(run: RunRecord, *, clients: list[str], server_conns: list[str]) -> Verdict:
    """Claim 4: each client gets a port of its own; each accepted socket its own 4-tuple."""
    locals_ = [_local_of(run, c) for c in clients]
    conns = [_local_of(run, c) for c in server_conns]
    if None in locals_ or None in conns:
        return None, "not yet: both clients must be connected and accepted"
    ports = [addr[1] for addr in locals_ if addr]
    tuples = [f"{a[0]}:{a[1]} <-> {b[0]}:{b[1]}" for a, b in zip(locals_, conns, strict=True)
              if a and b]  # fmt: skip
    same_server_side = len({c for c in conns}) == 1
    observed = f"client ports {ports}; 4-tuples: {'; '.join(tuples)}"
    return len(set(ports)) == len(ports) and same_server_side, observed


def backlog_queue(run: RunRecord, *, listener: str, backlog: int, clients: list[str]) -> Verdict:
    """Claim 3: past the backlog, connections wait (SYN dropped) until accept() frees room."""
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
    observed = (
        f"before accept(): accept queue {peak} with backlog {backlog};"
        f" {len(waiting)} client(s) still in SYN_SENT: {', '.join(waiting) or 'none'}"
    )
    return peak == backlog + 1 and len(waiting) == len(clients) - peak, observed


def ipc_faster_than_tcp(run: RunRecord) -> Verdict:
    """Claim 5: a Unix socket or a pipe moves the same bytes faster than TCP over loopback.

    Compared on each channel's fastest run: on a shared machine the slow runs measure
    the neighbours, the fastest what the channel can do.
    """
    results = run.data.get("ipc")
    if not results:
        return None, "not yet: the IPC comparison has not run"
    speed = {r["channel"]: r["bytes"] / min(r["runs_s"]) / 1e6 for r in results}
    best = max(speed.get("unix", 0.0), speed.get("pipe", 0.0))
    observed = "best runs: " + ", ".join(f"{k} {v:.0f} MB/s" for k, v in speed.items())
    return best > speed.get("tcp", float("inf")), observed


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


def empty_means_closed(run: RunRecord, *, socket: str) -> Verdict:
    """Claim 8: recv() returns b'' once the peer closed; the socket sits in CLOSE_WAIT."""
    empties = [c for c in run.calls(socket, "recv") if c.done == 0 and c.errno is None]
    states = [e.figures.state for e in run.events if isinstance(e, ProbeEvent)
              and e.socket == socket]  # fmt: skip
    if not empties:
        return None, "not yet: no recv() has returned b''"
    close_wait = "CLOSE_WAIT" in states
    observed = f"{_said(empties[0])}; kernel state: {states[-1] if states else '?'}"
    return close_wait, observed


def recv_waits(run: RunRecord, *, socket: str, seconds: float) -> Verdict:
    """Claim 9: on a silent, open connection a blocking recv() just waits."""
    started = [e for e in run.events if isinstance(e, CallStartedEvent)
               and e.socket == socket and e.op == "recv"]  # fmt: skip
    if not started:
        return None, "not yet: no blocking recv() was made"
    ended = {c.call_id: c for c in run.calls(socket, "recv")}
    longest, observed = 0.0, ""
    for call in started:
        done = ended.get(call.call_id)
        waited = (done.duration_ns if done else run.now_ns - call.t_ns) / 1e9
        if waited >= longest:
            longest = waited
            observed = (
                f"{call.line} waited {waited:.1f} s, then -> {done.result_text}"
                if done
                else f"{call.line} still blocked after {waited:.1f} s"
            )
    return longest >= seconds, observed


def framing_recovers_messages(run: RunRecord) -> Verdict:
    """Claim 10: only a framing rule gets the messages back from the stream."""
    results = run.data.get("framing")
    if not results:
        return None, "not yet: the framing workbench has not run"
    framed_ok = all(r["framed_ok"] for r in results)
    naive_broke = any(not r["naive_ok"] for r in results)
    observed = "; ".join(f"{r['strategy']}: {r['verdict']}" for r in results)
    return framed_ok and naive_broke, observed


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


def split_prefix(run: RunRecord, *, receiver: str, prefix: int, at: int = 0) -> Verdict:
    """Claim 12: a length prefix can arrive in pieces (it starts at stream offset ``at``)."""
    recvs = [c for c in run.calls(receiver, "recv") if c.data and c.done and c.data.offset == at]
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
    sends = [c for c in run.calls(socket, "send") if c.done]
    partial = [c for c in sends if (c.done or 0) < (c.asked or 0)]
    observed = (
        f"sendall() of {done[0].asked} bytes took {len(sends)} send() calls, {len(partial)} partial"
    )
    return len(sends) > 1 and bool(partial), observed


def byte_order_matters(run: RunRecord) -> Verdict:
    """Claim 14: the same int is different bytes in network and little-endian order."""
    result = run.data.get("byteorder")
    if not result:
        return None, "not yet: the byte-order workbench has not run"
    observed = (
        f"{result['value']} packed as {result['fmt']!r} crossed the wire as {result['wire']};"
        f" read back right: {result['right']}, read with the other order: {result['wrong']}"
    )
    return result["right"] == result["value"] and result["wrong"] != result["value"], observed
