"""An exported lab is a standalone script that replays the lab and gets the same answers.

Each test runs a lab with the engine tests' LabDriver, closes it (so its ports are
free), renders its history, runs the script with a plain ``python`` and compares the
``line  ->  result`` lines it prints with the lab's own command-level calls.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from engine.conftest import LabDriver

from sockscope.engine.core.commands import parse_command
from sockscope.engine.core.payload import pattern
from sockscope.engine.core.policy import LabPolicy
from sockscope.events import CallEvent, CallStartedEvent
from sockscope.export.script import RUNTIME, render_script

from helpers import wait_until

MIB = 1024 * 1024
ARROW = "  ->  "
ALLOWED_IMPORTS = {"socket", "select", "struct", "threading", "time", "errno"}
_RETURNED = re.compile(r"\[returned after [0-9.]+ s\] ")
_ERRNO = re.compile(r"E[A-Z0-9]+|timeout")


@pytest.fixture
def lab() -> Iterator[LabDriver]:
    driver = LabDriver(LabPolicy())
    yield driver
    driver.close()


def command_calls(lab: LabDriver) -> list[CallEvent]:
    """The calls the participant's commands made (not the lab's select() loop)."""
    return [e for e in lab.calls() if e.via in ("command", "worker")]


def errno_of(lab: LabDriver, command: dict[str, Any]) -> str | None:
    """Run a command whose socket call fails; the errno name the lab answered."""
    result = lab.run(command)
    assert not result.ok and result.error is not None, result
    errno: str | None = result.error["errno"]
    return errno


def submit(lab: LabDriver, command: dict[str, Any]) -> None:
    """Start a command without waiting for its answer (a call that will block)."""
    lab.engine.submit(parse_command(command, lab.policy))


def replay(lab: LabDriver, tmp_path: Path) -> tuple[str, str]:
    """Close the lab, render its script, run it: (script text, what it printed)."""
    lab.close()
    assert lab.engine.closed.is_set()
    text = render_script(
        list(lab.engine.history), lab_id=lab.engine.id, truncated=lab.engine.history_truncated
    )
    path = tmp_path / "replay.py"
    path.write_text(text, encoding="ascii")
    done = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.stderr == "", done.stderr
    return text, done.stdout


def printed_calls(output: str) -> list[tuple[str, str]]:
    """(line, result) of each command-level call the script printed, in order.

    Loop calls ([loop]) and the closing at the end ([end]) are left out, and so is
    the "... blocked" of a call that blocked: its result is the line printed when it
    returned ([returned after ...]), as in the lab's log.
    """
    calls = []
    for raw in output.splitlines():
        if raw.startswith(("[loop] ", "[end] ", "#")) or ARROW not in raw:
            continue
        line, result = _RETURNED.sub("", raw, count=1).split(ARROW, 1)
        if result != "... blocked":
            calls.append((line, result))
    return calls


def same_outcome(event: CallEvent, got: str) -> bool:
    """The same kind of answer: errno names and b'' equal, a send() full or partial alike."""
    if event.errno is not None:
        return got == event.errno
    if _ERRNO.fullmatch(got):
        return False
    if event.result_text.startswith("b''") or event.result_text == "None":
        return got == event.result_text
    if event.op == "send" and event.asked is not None:
        n = int(got)
        return n == event.asked if event.done == event.asked else 0 < n < event.asked
    if event.op == "recv":
        return got.startswith("b'") and not got.startswith("b''")
    return True


def assert_replayed(lab: LabDriver, output: str) -> None:
    expected = command_calls(lab)
    got = printed_calls(output)
    report = "\n".join(
        [
            "lab:",
            *(f"  {e.line}  ->  {e.result_text}" for e in expected),
            "script:",
            output,
        ]
    )
    assert [line for line, _ in got] == [e.line for e in expected], report
    for event, (_, result) in zip(expected, got, strict=True):
        assert same_outcome(event, result), (
            f"{event.line}: lab {event.result_text!r}, script {result!r}\n{report}"
        )


def settled(lab: LabDriver, name: str) -> Callable[[], bool]:
    """True once every segment the socket sent is acknowledged (the script waits the same)."""
    return lambda: lab.sock(name)["figures"]["unacked"] == 0


# -- the experiments ----------------------------------------------------------------------


def test_partial_sends_of_1mib_through_4kib_replay(lab: LabDriver, tmp_path: Path) -> None:
    port = lab.server(rcvbuf=4096, blocking=False)
    lab.ok({"op": "socket", "name": "cli", "options": {"sndbuf": 4096, "blocking": False}})
    assert lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]}).error
    wait_until(lambda: lab.sock("cli")["role"] == "connected", what="connect to complete")
    lab.ok({"op": "accept", "socket": "srv"})
    for _ in range(10):
        result = lab.run({"op": "send", "socket": "cli", "size": MIB})
        wait_until(settled(lab, "cli"), what="the client's segments acknowledged")
        if not result.ok:
            break
    sends = [e for e in command_calls(lab) if e.op == "send"]
    assert sends[0].done is not None and 0 < sends[0].done < MIB
    assert sends[-1].errno == "EAGAIN"

    text, output = replay(lab, tmp_path)

    assert_replayed(lab, output)
    # The port the lab got for port 0 is bound again, and the client connects to it.
    assert f"srv.bind(('127.0.0.1', {port}))" in text
    assert f"cli.connect(('127.0.0.1', {port}))" in text
    assert "[loop] cli.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)  ->  0 (connected)" in output
    assert f"# lab: -> {sends[0].result_text}" in text


def test_blocking_echo_exchange_replays(lab: LabDriver, tmp_path: Path) -> None:
    port = lab.server(auto_accept=True, auto_recv="echo")
    lab.ok({"op": "socket", "name": "cli"})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    wait_until(lambda: lab.sock("conn"), what="the loop to accept")
    assert lab.ok({"op": "send", "socket": "cli", "text": "hello\n"}).result == 6
    got = lab.ok({"op": "recv", "socket": "cli", "bufsize": 100})
    assert got.result["head"] == "b'hello\\n'"
    lab.ok({"op": "shutdown", "socket": "cli", "how": "SHUT_WR"})
    wait_until(lambda: lab.sock("conn")["eof"], what="the loop to read b''")
    lab.ok({"op": "close", "socket": "conn"})
    assert lab.ok({"op": "recv", "socket": "cli", "bufsize": 100}).result["eof"] is True
    lab.ok({"op": "close", "socket": "cli"})

    text, output = replay(lab, tmp_path)

    assert_replayed(lab, output)
    assert command_calls(lab)[-2].result_text == "b'' (peer closed)"
    assert "[loop] data = conn.recv(65536)  ->  b'hello\\n' (6 bytes)" in output
    assert "[loop] conn.send(echo[0:])  ->  6" in output
    assert "[loop] data = conn.recv(65536)  ->  b'' (peer closed)" in output
    assert 'auto("srv", accept=True, recv="echo")' in text


def test_blocked_calls_timeouts_and_errors_replay(lab: LabDriver, tmp_path: Path) -> None:
    port = lab.server()
    submit(lab, {"op": "accept", "socket": "srv", "name": "peer"})  # blocks: nobody connects yet
    wait_until(lambda: lab.events("call_started"), what="accept to block")
    lab.ok({"op": "socket", "name": "cli", "options": {"blocking": False}})
    lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    wait_until(lambda: lab.calls("srv", "accept"), what="the blocked accept to return")
    wait_until(lambda: lab.sock("cli")["role"] == "connected", what="connect to complete")
    lab.ok({"op": "settimeout", "socket": "peer", "timeout": 0.2})
    assert errno_of(lab, {"op": "recv", "socket": "peer", "bufsize": 10}) == "timeout"
    lab.ok({"op": "send", "socket": "cli", "hex": "00000005 68656c6c6f"})
    lab.ok({"op": "recv", "socket": "peer", "bufsize": 4})
    lab.ok({"op": "recv", "socket": "peer", "bufsize": 100})
    lab.ok({"op": "setsockopt", "socket": "cli", "option": "TCP_NODELAY", "value": True})
    lab.ok({"op": "getsockopt", "socket": "cli", "option": "SO_SNDBUF"})
    lab.ok({"op": "abort", "socket": "peer"})
    assert errno_of(lab, {"op": "recv", "socket": "cli", "bufsize": 100}) == "ECONNRESET"
    lab.ok({"op": "recv", "socket": "cli", "bufsize": 100})
    lab.ok({"op": "close", "socket": "srv"})
    lab.ok({"op": "socket", "name": "late"})
    refused = errno_of(lab, {"op": "connect", "socket": "late", "address": ["127.0.0.1", port]})
    assert refused == "ECONNREFUSED"

    text, output = replay(lab, tmp_path)

    assert_replayed(lab, output)
    assert "peer, addr = srv.accept()  ->  ... blocked" in output
    assert re.search(r"^\[returned after [0-9.]+ s\] peer, addr = srv\.accept\(\)", output, re.M)
    assert 'bytes.fromhex("00000005 68656c6c 6f")' in text
    assert "peer.recv(4)  ->  b'\\x00\\x00\\x00\\x05' (4 bytes)" in output
    assert "struct.pack('ii', 1, 0)" in text


def test_pause_step_resume_and_a_loop_driven_sendall_replay(lab: LabDriver, tmp_path: Path) -> None:
    lab.server(rcvbuf=4096, blocking=False, auto_accept=True, auto_recv="discard")
    port = lab.sock("srv")["local"][1]
    lab.ok({"op": "socket", "name": "cli", "options": {"sndbuf": 4096, "blocking": False}})
    lab.run({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    wait_until(lambda: lab.sock("conn"), what="the loop to accept")
    lab.ok({"op": "pause"})
    started = lab.ok({"op": "sendall", "socket": "cli", "size": 30000})
    assert 0 < started.result["sent"] < 30000
    lab.ok({"op": "step"})
    lab.ok({"op": "resume"})
    wait_until(lambda: lab.calls("cli", "sendall"), what="the loop to finish the sendall")
    lab.ok({"op": "send", "socket": "cli", "text": "bye"})
    lab.ok({"op": "auto", "socket": "conn", "recv": "off"})
    lab.ok({"op": "close", "socket": "cli"})

    text, output = replay(lab, tmp_path)

    assert_replayed(lab, output)
    assert "[loop] cli.sendall(pattern(30000))  ->  None" in output
    assert "# step: one turn of the select() loop" in output
    assert re.search(r"^\[loop\] cli\.send\(view\[[1-9][0-9]*:\]\)  ->  [0-9]+$", output, re.M)
    assert 'auto("conn", recv="off")' in text


def test_a_buffered_file_write_and_flush_replay(lab: LabDriver, tmp_path: Path) -> None:
    port = lab.server()
    lab.ok({"op": "socket", "name": "cli"})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    lab.ok({"op": "accept", "socket": "srv"})
    lab.ok({"op": "setblocking", "socket": "conn", "flag": False})
    lab.ok({"op": "makefile", "socket": "cli"})
    assert lab.ok({"op": "write", "socket": "cli", "text": "GET / HTTP/1.0\r\n\r\n"}).result == 18
    assert errno_of(lab, {"op": "recv", "socket": "conn", "bufsize": 100}) == "EAGAIN"
    lab.ok({"op": "flush", "socket": "cli"})
    assert lab.ok({"op": "recv", "socket": "conn", "bufsize": 100}).result["len"] == 18
    lab.ok({"op": "write", "socket": "cli", "size": 10})
    lab.ok({"op": "close", "socket": "cli"})  # closes the file first: it flushes

    text, output = replay(lab, tmp_path)

    assert_replayed(lab, output)
    assert "lambda f_cli: f_cli.write(b'GET / HTTP/1.0\\r\\n\\r\\n'))" in text
    assert "f_cli.close()  # flushes what it still holds  ->  None" in output


def test_datagrams_a_dup_and_an_ipv6_client_replay(lab: LabDriver, tmp_path: Path) -> None:
    lab.ok({"op": "socket", "name": "usrv", "options": {"type": "SOCK_DGRAM"}})
    uport = lab.ok({"op": "bind", "socket": "usrv", "address": ["127.0.0.1", 0]}).result["address"][
        1
    ]
    lab.ok({"op": "socket", "name": "ucli", "options": {"type": "SOCK_DGRAM"}})
    lab.ok({"op": "sendto", "socket": "ucli", "text": "hello", "address": ["127.0.0.1", uport]})
    lab.ok({"op": "sendto", "socket": "ucli", "text": "", "address": ["127.0.0.1", uport]})
    assert lab.ok({"op": "recvfrom", "socket": "usrv", "bufsize": 3}).result["len"] == 3
    assert lab.ok({"op": "recvfrom", "socket": "usrv", "bufsize": 8}).result["len"] == 0
    lab.ok({"op": "socket", "name": "srv", "options": {"family": "AF_INET6", "v6only": False}})
    port = lab.ok({"op": "bind", "socket": "srv", "address": ["::", 0]}).result["address"][1]
    lab.ok({"op": "listen", "socket": "srv"})
    lab.ok({"op": "socket", "name": "cli"})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    lab.ok({"op": "accept", "socket": "srv", "name": "conn"})
    lab.ok({"op": "dup", "socket": "conn"})
    lab.ok({"op": "close", "socket": "conn"})
    lab.ok({"op": "send", "socket": "conn_dup", "text": "still"})
    got = lab.ok({"op": "recvfrom", "socket": "cli", "bufsize": 10}).result  # on TCP: no address
    assert got["len"] == 5 and got["address"] is None
    lab.ok({"op": "close", "socket": "cli"})  # the client first: no TIME_WAIT on srv's port
    assert lab.ok({"op": "recv", "socket": "conn_dup", "bufsize": 10}).result["eof"] is True
    lab.ok({"op": "close", "socket": "conn_dup"})

    text, output = replay(lab, tmp_path)

    assert_replayed(lab, output)
    assert "socket.socket(socket.AF_INET, socket.SOCK_DGRAM)" in text
    assert "socket.socket(socket.AF_INET6, socket.SOCK_STREAM)" in text
    assert "conn_dup = conn.dup()" in output
    assert "a datagram of 0 bytes" in output and "::ffff:127.0.0.1" in output


def test_an_empty_lab_gives_a_script_that_runs(tmp_path: Path) -> None:
    driver = LabDriver(LabPolicy())
    text, output = replay(driver, tmp_path)
    assert "Generated from lab" in text and "its 0 commands" in text
    assert output.startswith("# the end")


# -- the script itself ----------------------------------------------------------------------


def test_the_script_imports_only_the_standard_library() -> None:
    text = render_script([], lab_id="x")
    imported: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= ALLOWED_IMPORTS, imported
    assert "sockscope" not in "\n".join(line for line in text.splitlines() if "import" in line)
    assert "python3 this_file.py" in text


def test_a_truncated_history_says_so() -> None:
    assert "the oldest were dropped" in render_script([], lab_id="x", truncated=True)
    assert "the oldest were dropped" not in render_script([], lab_id="x")


@pytest.mark.parametrize("offset", [0, 1, 7, 8, 100, 6144, 12345, 8 * 0x10000000 - 13])
@pytest.mark.parametrize("size", [0, 1, 5, 8, 9, 100, 4096])
def test_the_scripts_pattern_is_the_labs(offset: int, size: int) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(RUNTIME, "runtime", "exec"), namespace)
    assert namespace["pattern"](offset, size) == pattern(offset, size)


def test_a_call_still_blocked_when_rendered_is_marked_so(lab: LabDriver) -> None:
    port = lab.server()
    lab.ok({"op": "socket", "name": "cli"})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    submit(lab, {"op": "recv", "socket": "cli", "bufsize": 10})  # nobody sends: it blocks
    wait_until(lambda: lab.sock("cli")["blocked"], what="recv to block")
    history = list(lab.engine.history)
    events = history[-1].events
    assert any(isinstance(e, CallStartedEvent) for e in events)
    text = render_script(history, lab_id=lab.engine.id)
    assert "# lab: -> ... blocked (it had not returned when this script was made)" in text


def test_a_private_network_lab_replays_on_the_machines_loopback(
    lab: LabDriver, tmp_path: Path
) -> None:
    # A port free on this machine too (the script binds it here): a host server finds
    # one, closes, and the private server takes it.
    port = lab.server("probe")
    lab.ok({"op": "close", "socket": "probe"})
    lab.ok({"op": "socket", "name": "srv", "options": {"network": "private"}})
    lab.ok({"op": "bind", "socket": "srv", "address": ["127.0.0.1", port]})
    lab.ok({"op": "listen", "socket": "srv"})
    lab.ok({"op": "socket", "name": "cli", "options": {"network": "private"}})
    lab.ok({"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]})
    lab.ok({"op": "accept", "socket": "srv", "name": "conn"})
    lab.ok({"op": "send", "socket": "cli", "text": "hi"})
    lab.ok({"op": "recv", "socket": "conn", "bufsize": 10})
    lab.ok({"op": "cable", "plugged": False})
    lab.ok({"op": "close", "socket": "cli"})
    lab.ok({"op": "close", "socket": "conn"})

    text, output = replay(lab, tmp_path)

    assert_replayed(lab, output)
    assert "takes any free port" not in text  # probe was closed: no clash, no move
    assert text.count("here it uses this machine's loopback") == 2
    assert '{"op": "cable", "plugged": false}' in text
    assert "not replayed: the lab pulled out its private network's cable" in text


def test_a_watched_writer_replays_as_the_busy_loop(lab: LabDriver, tmp_path: Path) -> None:
    port = lab.server(auto_accept=True)
    lab.ok({"op": "socket", "name": "cli", "options": {"blocking": False}})
    assert errno_of(lab, {"op": "connect", "socket": "cli", "address": ["127.0.0.1", port]}) == (
        "EINPROGRESS"
    )
    wait_until(lambda: lab.sock("cli")["role"] == "connected", what="the loop to connect")
    lab.ok({"op": "watch", "socket": "cli", "write": True})
    wait_until(
        lambda: sum(1 for e in lab.events("select") if "cli" in e.ready_writers) > 50,  # type: ignore[attr-defined]
        what="the lab's loop to spin on a writable cli",
    )
    lab.ok({"op": "watch", "socket": "cli", "write": False})

    text, output = replay(lab, tmp_path)

    assert_replayed(lab, output)
    assert 'watch("cli", write=True)' in text and 'watch("cli", write=False)' in text
    assert '{"op": "watch", "socket": "cli", "write": true}' in text
    spins = re.findall(r"select\(\) returned at once (\d+) times with cli ready", output)
    assert spins and int(spins[0]) > 50, output


def test_a_private_port_a_host_server_also_had_moves_in_the_replay(
    lab: LabDriver, tmp_path: Path
) -> None:
    port = lab.server("hsrv", auto_accept=True)  # free on this machine
    lab.ok({"op": "socket", "name": "psrv", "options": {"network": "private",
                                                        "auto_accept": True}})  # fmt: skip
    lab.ok({"op": "bind", "socket": "psrv", "address": ["127.0.0.1", port]})
    lab.ok({"op": "listen", "socket": "psrv"})
    for name, network in (("hcli", "host"), ("pcli", "private")):
        lab.ok({"op": "socket", "name": name, "options": {"network": network}})
        lab.ok({"op": "connect", "socket": name, "address": ["127.0.0.1", port]})
    wait_until(lambda: len(lab.snapshot()["sockets"]) == 6, what="both servers to accept")

    text, output = replay(lab, tmp_path)

    assert_replayed(lab, output)  # both binds and both connects succeed here too
    assert f"psrv had port {port} to itself; here a host socket of the lab holds it" in text
    assert f"pcli follows the private server of port {port} to its port here" in text
    assert "hcli follows" not in text  # a host client stays with the host server
    assert "EADDRINUSE" not in output and "ECONNREFUSED" not in output
