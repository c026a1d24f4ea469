"""heap.settle(): the server's garbage collector, frozen after start-up and tuned (heap.py).
Run in a fresh interpreter, so the test process's own collector is left as it was."""

from __future__ import annotations

import json
import subprocess
import sys

from sockscope import heap

PROBE = (
    "import gc, json; from sockscope import heap; from sockscope.api.app import create_app;"
    " create_app(); before = gc.get_freeze_count(); heap.settle();"
    " print(json.dumps([before, gc.get_freeze_count(), gc.get_threshold()]))"
)


def test_settle_freezes_what_start_up_built_and_sets_the_thresholds() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    before, frozen, thresholds = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == 0
    assert frozen > 20_000  # the app, its routes and models: about 80,000 objects
    assert tuple(thresholds) == heap.THRESHOLDS
    assert heap.THRESHOLDS[2] > 10  # full collections rarer than CPython's default


def test_the_server_and_each_lab_host_settle_their_heap() -> None:
    """Both entry points call it (a grep would pass on a comment, so read the calls)."""
    import ast
    import inspect

    from sockscope import cli
    from sockscope.labs import host

    for module, function in ((cli, "main"), (host, "main")):
        tree = ast.parse(inspect.getsource(getattr(module, function)))
        calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        assert "heap.settle" in calls, module.__name__
