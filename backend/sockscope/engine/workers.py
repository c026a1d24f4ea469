"""Worker threads: a call that may block runs on one (the thread-per-connection shape).

The lab thread goes on; the worker posts the outcome back and the lab thread
records it. A worker has the lab thread's safety net: an exception the call was
not expected to raise is logged with its traceback, the command answers with an
error, and the socket's side is free again.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sockscope.engine.calls import Outcome, perform
from sockscope.engine.context import LabContext
from sockscope.engine.core.errors import LabClosed
from sockscope.engine.probes import probe_now
from sockscope.engine.sockets import BlockedCall, LabSocket
from sockscope.engine.tickets import CommandResult, Ticket
from sockscope.events import CallStartedEvent

log = logging.getLogger(__name__)


def run_blocking(
    lab: LabContext,
    ticket: Ticket,
    ls: LabSocket,
    side: str,
    op: str,
    line: str,
    fn: Callable[[], Any],
    finish: Callable[[Outcome, int], CommandResult],
) -> None:
    """Run ``fn`` on a worker thread; ``finish`` records its outcome on the lab thread."""
    call_id = lab.new_call_id()
    lab.worker_calls.add(call_id)
    blocked = BlockedCall(call_id, op, line, lab.now_ns())
    if side == "in":
        ls.blocked_in = blocked
    else:
        ls.blocked_out = blocked
    ticket.hand_off(call_id)
    lab.emit(CallStartedEvent, call_id=call_id, socket=ls.name, op=op, line=line)
    job = _WorkerCall(lab, ticket, ls, side, op, call_id, finish)
    worker = threading.Thread(target=job.work, args=(fn,), name=f"lab-{lab.id[:8]}-{op}",
                              daemon=True)  # fmt: skip
    lab.workers.add(worker)
    worker.start()


@dataclass(slots=True, eq=False)
class _WorkerCall:
    lab: LabContext
    ticket: Ticket
    ls: LabSocket
    side: str
    op: str
    call_id: int
    finish: Callable[[Outcome, int], CommandResult]

    def work(self, fn: Callable[[], Any]) -> None:
        """On the worker thread: make the call, post its end to the lab thread."""
        report: Callable[[], None]
        try:
            report = functools.partial(self.done, perform(fn))
        except Exception:
            log.exception(
                "lab %s: %s() on a worker thread failed", self.lab.id, self.op,
                extra={"lab": self.lab.id[:8]},
            )  # fmt: skip
            report = self.failed
        try:
            self.lab.post(report)
        except LabClosed:
            pass
        finally:
            self.lab.workers.discard(threading.current_thread())

    def done(self, outcome: Outcome) -> None:
        """On the lab thread: record the call's end and answer."""
        lab, ls, ticket = self.lab, self.ls, self.ticket
        self.unblock()
        lab.ticket = ticket
        try:
            result = self.finish(outcome, self.call_id)
            lab.sync(ls)
            probe_now(lab, ls, *filter(None, [lab.local_peer(ls)]))
            ticket.resolve(result)  # last: a failure above must not follow an ok answer
        except Exception:  # the answer must still come, and say what happened
            log.exception(
                "lab %s: finishing %s() failed", lab.id, self.op, extra={"lab": lab.id[:8]}
            )
            self.answer_error(f"internal error finishing {self.op}() (logged on the server)")
        finally:
            lab.ticket = None
            ticket.publish()

    def failed(self) -> None:
        """On the lab thread: the call raised what perform() does not catch (a bug)."""
        self.unblock()
        self.lab.worker_calls.discard(self.call_id)
        self.lab.ticket = self.ticket
        try:
            self.answer_error(f"internal error in {self.op}() on a worker thread"
                              " (logged on the server)")  # fmt: skip
            self.lab.sync(self.ls)
        finally:
            self.lab.ticket = None
            self.ticket.publish()

    def unblock(self) -> None:
        if self.side == "in":
            self.ls.blocked_in = None
        else:
            self.ls.blocked_out = None

    def answer_error(self, message: str) -> None:
        self.lab.emit_notice(self.ls.name, message)
        self.ticket.fail({"errno": None, "field": None, "message": message}, 500)
