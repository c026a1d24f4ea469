"""A websocket viewer in its own process (as a browser would be): ``python -m bench.viewer URL``.

Like the lab page, it asks for rows (URL ``...?rows=1``: ``events/rows`` messages).

It connects, prints one JSON line ``{"ready": snapshot_seq}``, then records when each
message arrives (CLOCK_MONOTONIC, shared by all processes) and which seqs it held.
The parent writes a target seq on stdin; the viewer stops once it has received that
seq, or when its deadline passes, and prints one JSON line with what it saw.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from websockets.sync.client import connect

AFTER_TARGET_S = 10.0  # how long to wait for the target seq once it is known
HARD_LIMIT_S = 60.0  # the viewer never lives longer than this


def main(url: str) -> int:
    target: list[int] = []
    given = threading.Event()

    def read_target() -> None:
        line = sys.stdin.readline()
        target.append(int(line) if line.strip() else 0)
        given.set()

    threading.Thread(target=read_target, daemon=True).start()
    started = time.monotonic()
    arrivals: list[list[int]] = []  # [t_ns, first seq, last seq, count] per events/batch
    snapshots: list[list[int]] = []  # [t_ns, snapshot seq, gap from, gap to]
    last_seq = 0
    reached = False
    with connect(url, max_size=None, compression=None, open_timeout=5) as ws:
        first: dict[str, Any] = json.loads(ws.recv(5))
        last_seq = int(first["snapshot"]["seq"])
        print(json.dumps({"ready": last_seq}), flush=True)
        given_at: float | None = None
        while True:
            now = time.monotonic()
            if now - started > HARD_LIMIT_S:
                break
            if given.is_set():
                given_at = given_at or now
                if last_seq >= target[0] or now - given_at > AFTER_TARGET_S:
                    reached = last_seq >= target[0]
                    break
            try:
                raw = ws.recv(0.02)
            except TimeoutError:
                continue
            t_ns = time.monotonic_ns()
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "events/rows" and message["events"]:
                count = len(message["events"])  # rows in seq order from "first", no holes
                last_seq = int(message["first"]) + count - 1
                arrivals.append([t_ns, int(message["first"]), last_seq, count])
            elif message["type"] == "lab/snapshot":
                gap = message.get("gap") or {"from": 0, "to": -1}
                last_seq = int(message["snapshot"]["seq"])
                snapshots.append([t_ns, last_seq, int(gap["from"]), int(gap["to"])])
    report = {"arrivals": arrivals, "snapshots": snapshots, "reached": reached, "last": last_seq}
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
