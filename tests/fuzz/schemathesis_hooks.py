"""schemathesis hooks for run_schemathesis.py: what counts as a server error here."""

from __future__ import annotations

import os
from typing import Any

import schemathesis


@schemathesis.check
def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """Any 5xx fails, except POST /api/labs answering 503 because the server is full: a
    stateful run creates labs faster than it deletes them, and a full server (its lab
    limit, or no descriptor below select()'s 1024 left) refuses a new one by design."""
    status = response.status_code
    full = case.operation.method.upper() == "POST" and case.operation.path == "/api/labs"
    if status >= 500 and not (full and status == 503):
        raise AssertionError(f"{status} from {case.operation.label}: {response.text[:300]}")
    return None


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Tally each command schemathesis sends and how it was answered (run_schemathesis.py
    prints it): with the commands typed in the OpenAPI document, most of them run."""
    tally = os.environ.get("SOCKSCOPE_FUZZ_TALLY")
    if not tally or case.operation.path != "/api/labs/{lab_id}/commands":
        return
    body = case.body if isinstance(case.body, dict) else {}
    op = body.get("op") if isinstance(body.get("op"), str) else "?"
    with open(tally, "a", encoding="utf-8") as out:
        out.write(f"{op} {response.status_code}\n")


NAMES = ("s0", "s1", "s2")  # few names, so a command often finds the socket an earlier one made


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    """A command names one of a few sockets, so its op runs instead of answering 404 (the
    schema lets a name be any identifier, and a random one names no socket of the lab).
    Other bodies pass unchanged."""
    if not isinstance(body, dict) or not isinstance(body.get("op"), str):
        return body
    pick = NAMES[(hash(repr(sorted(body, key=str))) + len(str(body))) % len(NAMES)]
    changed = dict(body)
    for key in ("socket", "name"):
        if isinstance(changed.get(key), str):
            changed[key] = pick
    return changed
