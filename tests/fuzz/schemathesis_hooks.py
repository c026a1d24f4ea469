"""schemathesis hooks for run_schemathesis.py: what counts as a server error here."""

from __future__ import annotations

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
