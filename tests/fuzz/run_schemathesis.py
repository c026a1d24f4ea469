"""schemathesis against the app's own OpenAPI document, on a real server (127.0.0.1, port 0).

    .venv/bin/python tests/fuzz/run_schemathesis.py [--max-examples N] [--max-time S]

Fails (exit 1) on any 5xx, any status the document does not declare, any answer whose body
or content type the document does not describe. Bounded: ``--max-examples`` per operation
and a wall-clock limit for the whole run. The commands are typed in the document (one schema
per op), so schemathesis sends every op with fields of the right shape; the run prints the
commands it sent by op and status, and fails when an op of the engine was never sent (a
schema that stopped describing the commands would leave schemathesis guessing).

/api/workbench/shapes is left out: it runs real client/server shapes taking seconds each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: live.py, helpers.py

from sockscope.settings import Settings  # noqa: E402

from live import serve  # noqa: E402

CHECKS = ",".join(
    [
        "no_server_error",  # schemathesis_hooks.py: not_a_server_error but a full server
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


from sockscope.engine.core.commands import OPS  # noqa: E402


def report(tally: Path) -> int:
    """Print the commands sent, by op and status; 1 when an op was never sent."""
    counts: dict[str, dict[str, int]] = {}
    lines = tally.read_text(encoding="utf-8").splitlines() if tally.exists() else []
    for line in lines:
        op, _, status = line.partition(" ")
        counts.setdefault(op, {}).setdefault(status, 0)
        counts[op][status] += 1
    ran = sorted(op for op, statuses in counts.items() if "200" in statuses)
    print(f"commands sent: {len(lines)}; ops that ran (200): {len(ran)}: {', '.join(ran)}")
    for op in sorted(counts):
        print(f"  {op}: " + ", ".join(f"{s} x{n}" for s, n in sorted(counts[op].items())))
    missing = sorted(set(OPS) - set(counts))
    if missing:
        print(f"never sent: {', '.join(missing)}: is the command schema still in the document?")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=50, help="per operation")
    parser.add_argument("--max-time", type=int, default=120, help="seconds, whole run")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    schemathesis = Path(sys.executable).with_name("schemathesis")
    if not schemathesis.exists():
        print("schemathesis is not installed (pip install schemathesis)", file=sys.stderr)
        return 2
    settings = Settings(
        command_wait=0.2, commands_per_second=100_000, labs_per_client=60, labs_per_minute=100_000
    )
    with tempfile.TemporaryDirectory() as scratch:
        for live in serve(settings):
            command = [
                str(schemathesis),
                "run",
                f"{live.url}/openapi.json",
                "--url",
                live.url,
                "--checks",
                CHECKS,
                "--max-examples",
                str(args.max_examples),
                "--max-time",
                str(args.max_time),
                "--request-timeout",
                "30",
                "--exclude-path",
                "/api/workbench/shapes",
                "--generation-database",
                ":memory:",
                "--no-color",
            ]
            if args.seed is not None:
                command += ["--seed", str(args.seed)]
            print("$", " ".join(command), flush=True)
            path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
            tally = Path(scratch) / "commands.txt"
            env = {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks", "PYTHONPATH": path,
                   "SOCKSCOPE_FUZZ_TALLY": str(tally)}  # fmt: skip
            try:
                # The run is bounded by --max-time; the margin covers start-up and the report.
                limit = args.max_time + 120
                done = subprocess.run(command, check=False, cwd=scratch, env=env, timeout=limit)
            except subprocess.TimeoutExpired:
                print("schemathesis did not finish in time", file=sys.stderr)
                return 1
            return done.returncode or report(tally)
    return 1


if __name__ == "__main__":
    sys.exit(main())
