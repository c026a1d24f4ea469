"""`make check-installed`: the wheel, installed into a fresh virtual environment, serves a workshop.

The tests run an editable install of the tree; this runs what `pip install` gives a user (and
what the image installs): build the wheel, install it with the pinned dependencies into a new
venv (not editable), start its `sockscope` command from a folder outside the tree, and run the
workshop smoke check against it. Exits non-zero, saying why, on the first failure.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from installed.wheel import ROOT, build_wheel, missing_from, wheel_files
from workshop_smoke import SmokeFailure, run_all

START_TIMEOUT = 30.0


def install(wheel: Path, venv: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    lock = ROOT / "requirements" / "run.txt"
    subprocess.run([*pip, "--require-hashes", "-r", str(lock)], check=True, timeout=600)
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, timeout=120)
    return venv / "bin" / "sockscope"


def start(command: Path, cwd: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Starts the command with its output in ``log`` (a pipe nobody reads would fill up and
    stop the server), and reads its URL from the banner, with a deadline."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(command), "--port", "0"], cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + START_TIMEOUT
    while not (found := re.search(r"open (http://127\.0\.0\.1:\d+)/", log.read_text())):
        if time.monotonic() > deadline or proc.poll() is not None:
            stop(proc)
            raise SmokeFailure(f"the installed sockscope did not start: {log.read_text()}")
        time.sleep(0.05)
    return proc, found.group(1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="sockscope-wheel-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work / "dist")
        missing = missing_from(wheel_files(wheel))
        if missing:
            print(f"FAILED: the wheel lacks {missing}", file=sys.stderr)
            return 1
        print(f"ok  built {wheel.name}: {len(wheel_files(wheel))} files")
        command = install(wheel, work / "venv")
        where = subprocess.run(
            [str(work / "venv/bin/python"), "-c", "import sockscope; print(sockscope.__file__)"],
            cwd=work, capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()  # fmt: skip
        if not where.startswith(str(work / "venv")):
            print(f"FAILED: sockscope imports from {where}, not the fresh venv", file=sys.stderr)
            return 1
        print(f"ok  installed, not editable: {where}")
        log = work / "sockscope.log"
        proc, url = start(command, work, log)
        try:
            lessons = len(list((ROOT / "backend/sockscope/lessons/data").glob("*.toml")))
            for line in run_all(url, lessons=lessons):
                print(line, flush=True)
        except SmokeFailure as exc:
            print(f"FAILED: {exc}\nthe server said:\n{log.read_text()[-3000:]}", file=sys.stderr)
            return 1
        finally:
            stop(proc)
        if proc.returncode != 0:
            print(f"FAILED: sockscope exited {proc.returncode} on SIGTERM", file=sys.stderr)
            return 1
        print("ok  stopped cleanly on SIGTERM (exit 0)")
    print("check-installed: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
