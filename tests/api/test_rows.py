"""The rows form (``?rows=1``, what the lab page asks for) reads back as the very events
``events/batch`` holds, read by the page's own reader (frontend/src/protocol/rows.ts, run
with node), on a real lab's loop calls: the pattern in many sizes, typed bytes with every
kind of escape, an empty recv() of a peer that shut down, and the select() turns around
them; in-process labs and labs in lab hosts (whose web process forwards the host's rows).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from live import LiveServer
from rowskit import flood_lab, messages_until

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
READER = """
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
const ts = createRequire(process.argv[5])("typescript");  // the front end's own
const source = readFileSync(process.argv[2], "utf8");
const js = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
}).outputText;
const rows = await import("data:text/javascript," + encodeURIComponent(js));
const strings = new rows.RowStrings();
const messages = JSON.parse(readFileSync(process.argv[3], "utf8"));
const events = messages.flatMap((m) => rows.eventsOfRows(m, strings));
writeFileSync(process.argv[4], JSON.stringify(events));
"""


def read_with_the_page(messages: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    """The events the page's reader makes of these ``events/rows`` messages."""
    node = shutil.which("node")
    assert node, "the page's reader runs in node: install Node.js 20"
    assert (FRONTEND / "node_modules/typescript").is_dir(), "run `make ui` (npm ci)"
    script = tmp_path / "reader.mjs"
    script.write_text(READER, encoding="utf-8")
    given, made = tmp_path / "rows.json", tmp_path / "events.json"
    given.write_text(json.dumps(messages), encoding="utf-8")
    done = subprocess.run(
        [
            node,
            str(script),
            str(FRONTEND / "src/protocol/rows.ts"),
            str(given),
            str(made),
            str(FRONTEND / "package.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    events: list[dict[str, Any]] = json.loads(made.read_text(encoding="utf-8"))
    return events


def test_rows_read_back_as_the_events_of_a_batch(live: LiveServer, tmp_path: Path) -> None:
    lab = flood_lab(live)
    deadline = time.monotonic() + 10
    while True:  # until conn's recv() saw the end of the stream
        events = live.client.get(f"/api/labs/{lab}/events?limit=5000").json()["events"]
        if any(e["kind"] == "call" and e.get("result_text") == "b'' (peer closed)" for e in events):
            break
        assert time.monotonic() < deadline, "conn never read the end of the stream"
        time.sleep(0.05)
    last = events[-1]["seq"]
    url = f"{live.ws_url}/api/labs/{lab}/ws?after=0"
    as_objects = [e for m in messages_until(url, last) for e in m["events"]]
    rows = messages_until(url + "&rows=1", last)
    assert all(m["type"] == "events/rows" for m in rows)
    arrays = [r for m in rows for r in m["events"] if isinstance(r, list)]
    kept = [r for r in arrays if r[0] == 1 and len(r) > 13]  # typed bytes: repr and hex
    assert len(arrays) > 100 and kept, "the lab's loop calls were not sent as rows"
    read = read_with_the_page(rows, tmp_path)
    assert len(read) >= last
    for mine, theirs in zip(read[:last], as_objects[:last], strict=True):
        assert mine == theirs
    assert any(e.get("result_text") == "b'' (peer closed)" for e in read)
    assert any(e["kind"] == "select" and e["ready_readers"] for e in read)


def test_a_new_connection_is_sent_the_strings_again(live: LiveServer) -> None:
    """Each connection's rows come with every string they name (the page's table is the
    connection's): a viewer that resumes mid-stream is sent them from number 0."""
    lab = flood_lab(live)
    last = live.client.get(f"/api/labs/{lab}/events?limit=1").json()["last_seq"]
    url = f"{live.ws_url}/api/labs/{lab}/ws?after={last - 5}&rows=1"
    (first, *_) = messages_until(url, last)
    assert first["first"] == last - 4
    assert first["strings"]["from"] == 0 and len(first["strings"]["values"]) > 2
