"""Export a lab as a standalone Python script that replays its commands (pure).

Theory of operation. The engine keeps every command it ran, in order, as a
:class:`~sockscope.engine.tickets.Ticket`: the parsed :class:`Command` and the
events it produced, its :class:`CallEvent` s among them. :func:`render_script`
turns that history into a program that needs nothing but the standard library
(``socket``, ``select``, ``struct``, ``threading``, ``time``, ``errno``): a small
runtime (:data:`RUNTIME`) that makes each call and prints ``line  ->  result``
the way the lab's call log does, then one block per command.

What the script is made of:

- The *command* gives what to do (which socket, which payload, which option).
- The command's *recorded calls* give the rest: the line the lab printed (so the
  two logs can be compared line by line), what the kernel answered (written as a
  ``# lab: -> ...`` comment above the call), the port a ``bind`` to port 0 really
  got, the name an ``accept`` gave its new socket, and calls the lab added on its
  own (the ``shutdown(SHUT_RDWR)`` that wakes a blocked thread before ``close``).
- What the lab's ``select()`` loop did on its own is not replayed from the record:
  the script runs the same loop (auto-accept, auto-recv, loop-driven ``sendall``,
  non-blocking ``connect`` completion), so it reacts to its own kernel's timing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sockscope.engine.tickets import Kept
from sockscope.export.commands import RENDERERS, Block, Ctx, Places
from sockscope.export.record import Calls, describe, lab_said, recorded
from sockscope.export.runtime import RUNTIME

GAP = 0.1  # seconds the script's loop runs between two commands (the kernel settles too)
GAP_BUDGET = 20.0  # a long history gets shorter gaps, so the whole replay stays short
MIN_GAP = 0.01
LOOP_CALLS_SHOWN = 6  # loop calls of the lab listed under a command (a step's, mostly)


def _gap(entries: int) -> float:
    return max(MIN_GAP, min(GAP, GAP_BUDGET / max(entries, 1)))


def render_script(history: list[Kept], *, lab_id: str, truncated: bool = False) -> str:
    """A standalone Python program that replays ``history`` and prints what each call returned.

    ``history`` is :attr:`LabEngine.history` (copy it on the lab thread, or after the
    lab closed); ``truncated`` says the lab dropped its oldest commands.
    """
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "?", lab_id)
    entries = [(k.command, list(k.events)) for k in list(history)]
    gap = _gap(len(entries))
    places = Places.plan(entries)
    ports: list[str] = []
    body: list[str] = []
    for number, (cmd, events) in enumerate(entries, 1):
        calls, loop = recorded(events)
        taken = Calls(calls)
        block = Block()
        block.note(f"{number}. {describe(cmd)}")
        render = RENDERERS.get(cmd.op)
        if render is None:
            block.note(f"not replayed: this script does not know the op {cmd.op!r}")
        else:
            render(block, Ctx(cmd, taken, ports, places))
        for rec in taken.rest():
            block.note(f"lab also ran (not replayed): {rec.line}  ->  {lab_said(rec)}")
        if loop:
            block.note("the lab's select() loop, during this command:")
            for event in loop[:LOOP_CALLS_SHOWN]:
                block.note(f"  {event.line}  ->  {event.result_text}")
            if len(loop) > LOOP_CALLS_SHOWN:
                block.note(f"  ... and {len(loop) - LOOP_CALLS_SHOWN} more loop calls")
        block.add("pump(GAP)", "")
        body += block.lines
    return "".join(
        [
            _header(safe_id, len(entries), ports, truncated),
            "\n",
            RUNTIME,
            "\n\n",
            "# -- the lab's commands, in order ",
            "-" * 60,
            "\n\n",
            f"GAP = {gap:g}  # seconds the loop runs between two commands (the kernel settles)\n",
            "\n\n",
            "def main():\n",
            *(f"{line}\n" for line in body),
            "    finish()\n",
            "\n\n",
            'if __name__ == "__main__":\n',
            "    main()\n",
        ]
    )


def _header(lab_id: str, count: int, ports: list[str], truncated: bool) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    port_text = ", ".join(ports) if ports else "none (this lab bound no socket)"
    lines = [
        "#!/usr/bin/env python3",
        '"""A Sockscope experiment, replayed by a standalone Python program.',
        "",
        f"Generated from lab {lab_id} on {now}: its {count} command"
        f"{'' if count == 1 else 's'}, in order.",
        "Run with:  python3 this_file.py   (Python 3.8 or newer; standard library only)",
        "",
        "Each socket call prints `line  ->  result`, as the lab's call log does, and",
        "a comment above each call says what the lab got (`# lab: -> 6144`). The kernel",
        "here decides for itself: a partial send() may take another count, and a call",
        "that blocked in the lab may not block here (or the other way round).",
        "",
        "  [loop] ...            a call of the program's own select() loop (auto-accept,",
        "                        auto-recv, a non-blocking sendall, a connect finishing)",
        "  ... blocked           the call waits in a thread; the program goes on",
        "  [returned after ...]  a blocked call returned",
        "",
        f"Ports: the same ones the lab used, {port_text}, so that its clients",
        "connect where they did in the lab. If bind() says EADDRINUSE, something",
        "else holds that port (or a connection of a previous run is in TIME_WAIT):",
        "wait a minute, or change the port here and in the matching connect().",
        '"""',
    ]
    if truncated:
        lines += [
            "",
            "# NOTE: the lab kept only its most recent commands; the oldest were dropped,",
            "# so this replay starts in the middle of the experiment (sockets made by the",
            "# dropped commands do not exist here, and calls on them say so).",
        ]
    return "\n".join(lines) + "\n"
