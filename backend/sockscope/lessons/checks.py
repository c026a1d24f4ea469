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
    if longest < seconds and any(c.call_id not in ended for c in started):
        return None, f"not yet: {observed}, of the {seconds:g} s the lesson waits"
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
    """Claim 14: the same int is different bytes in network and little-endian order."""
    result = run.data.get("byteorder")
    if not result:
        return None, "not yet: the byte-order workbench has not run"
    observed = (
        f"{result['value']} packed as {result['fmt']!r} crossed the wire as {result['wire']};"
        f" read back right: {result['right']}, read with the other order: {result['wrong']}"
    )
    return result["right"] == result["value"] and result["wrong"] != result["value"], observed


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
    return True, observed


def close_wait_lingers(run: RunRecord, *, first: str, later: str) -> Verdict:
    """Claim 16: a socket whose peer closed stays in CLOSE_WAIT until it closes too."""
    if first not in run.observations or later not in run.observations:
        return None, "not yet: the socket has not been watched twice after its peer closed"
    a, b = run.observations[first], run.observations[later]
    return a == b == "CLOSE_WAIT", f"state after the peer closed: {a}; a while later: {b}"


def dead_peer_hangs(run: RunRecord, *, socket: str, state: str, seconds: float) -> Verdict:
    """Claim 17: a peer gone without FIN or RST: recv() hangs on an ESTABLISHED connection."""
    timeouts = [c for c in run.calls(socket, "recv") if c.errno == "timeout"]
    seen = run.observations.get(state)
    if not timeouts:
        ended = [c for c in run.calls(socket, "recv") if c.seq > 0 and c.duration_ns > 0]
        if ended and seen is not None:
            return False, f"the recv() ended without the program's timeout: {_said(ended[-1])}"
        return None, "not yet: no recv() has timed out"
    waited = timeouts[0].duration_ns / 1e9
    observed = f"{_said(timeouts[0])} after {waited:.1f} s; the kernel said {seen} meanwhile"
    return waited >= seconds and seen == "ESTABLISHED", observed


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
    """Claim 18: a thread in a blocking recv() is stuck until the program itself ends the wait."""
    started = [e for e in run.events if isinstance(e, CallStartedEvent) and e.socket == socket
               and e.op == "recv"]  # fmt: skip
    ended = {c.call_id: c for c in run.calls(socket, "recv")}
    for call in reversed(started):
        done = ended.get(call.call_id)
        if done is None:
            waited = (run.now_ns - call.t_ns) / 1e9
            return None, f"{call.line} still blocked after {waited:.1f} s"
        waited = done.duration_ns / 1e9
        woken = "this side was shut down" in done.result_text
        observed = f"{call.line} was stuck {waited:.1f} s, then -> {done.result_text}"
        return waited >= seconds and woken, observed
    return None, "not yet: no blocking recv() was made"


def nothing_done(run: RunRecord, *, listener: str, client: str) -> Verdict:
    """Claim 19: non-blocking accept, connect and recv can return having done nothing."""
    wanted = {
        "accept": [c for c in run.calls(listener, "accept") if c.errno == "EAGAIN"],
        "connect": [c for c in run.calls(client, "connect") if c.errno == "EINPROGRESS"],
        "recv": [c for c in run.calls(client, "recv") if c.errno == "EAGAIN"],
    }
    seen = [_said(calls[0]) for calls in wanted.values() if calls]
    if len(seen) < len(wanted):
        missing = [k for k, calls in wanted.items() if not calls]
        if run.calls(listener, "accept") and missing == ["accept"]:
            return False, "accept() found a connection waiting: " + "; ".join(seen)
        return None, f"not yet: no empty-handed {', '.join(missing)}"
    return True, "; ".join(seen)


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
    shaped = (
        by["thread"]["peak_workers"] == n
        and by["process"]["peak_workers"] == n
        and by["select"]["peak_workers"] == 1
        and by["select"]["peak_blocked"] == 0
    )
    return served and shaped, observed
