"""HOWTO, "IPC": the same transfer over loopback TCP, a Unix socket and a pipe.

Which channel is faster is a benchmark claim, shown live by the lesson; these
tests check that each channel moves every byte, that the deadline holds, that no
descriptor leaks, and that the buffer knobs reach the sockets.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from sockscope.workbench.ipc import (
    CHANNELS,
    MIB,
    Channel,
    IpcConfig,
    IpcResult,
    compare,
    measure,
    verdict,
)

SMALL = IpcConfig(total=4 * MIB, repeats=3, deadline_s=20.0)


@pytest.fixture(autouse=True)
def no_fd_leaks() -> Iterator[None]:
    before = set(os.listdir("/proc/self/fd"))
    yield
    leaked = set(os.listdir("/proc/self/fd")) - before
    assert not leaked, f"descriptors left open: {sorted(leaked)}"


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_channel_moves_every_byte(channel: Channel) -> None:
    result = measure(channel, SMALL)
    assert result.channel == channel
    assert result.bytes == SMALL.total
    assert len(result.runs_s) == SMALL.repeats
    assert all(seconds > 0 for seconds in result.runs_s)
    assert result.median_mb_s > 0
    # At least one write and one read per chunk.
    assert result.syscalls >= 2 * SMALL.total // SMALL.chunk


@pytest.mark.parametrize("channel", CHANNELS)
def test_odd_sizes_arrive_intact(channel: Channel) -> None:
    """A last chunk shorter than the others; the reader checks its first and last bytes."""
    config = IpcConfig(total=1_000_003, chunk=10_007, repeats=1)
    result = measure(channel, config)
    assert result.bytes == 1_000_003
    assert result.syscalls >= 2 * 100


def test_compare_interleaves_all_three_channels() -> None:
    results = compare(SMALL)
    assert [r.channel for r in results] == ["tcp", "unix", "pipe"]
    for result in results:
        assert result.bytes == SMALL.total
        assert len(result.runs_s) == SMALL.repeats
        assert result.median_mb_s > 0


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_deadline_too_short_raises_timeout(channel: Channel) -> None:
    config = IpcConfig(total=256 * MIB, chunk=1024, repeats=1, deadline_s=0.01)
    with pytest.raises(TimeoutError, match="deadline passed"):
        measure(channel, config)


def test_verdict_names_the_channels_measured() -> None:
    text = verdict(compare(SMALL))
    for name in ("TCP over 127.0.0.1", "Unix socket", "pipe"):
        assert name in text


def result(channel: Channel, mb_s: float) -> IpcResult:
    return IpcResult(channel=channel, bytes=1, runs_s=(1.0,), median_mb_s=mb_s, syscalls=2)


def test_verdict_compares_with_tcp() -> None:
    results = [result("tcp", 1000), result("unix", 2100), result("pipe", 1600)]
    assert verdict(results) == (
        "Unix socket 2.1x and pipe 1.6x the throughput of TCP over 127.0.0.1."
    )


def test_verdict_of_one_channel_and_of_none() -> None:
    assert verdict([result("pipe", 1234)]) == "Only pipe was measured: 1234 MB/s."
    assert verdict([result("pipe", 3000), result("tcp", 1000)]) == (
        "Pipe 3.0x the throughput of TCP over 127.0.0.1."
    )
    with pytest.raises(ValueError, match="at least one"):
        verdict([])


@pytest.mark.parametrize("field", ["total", "chunk", "repeats", "sndbuf", "rcvbuf", "deadline_s"])
def test_config_refuses_nonsense(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        IpcConfig(**{field: 0})


# --- KNOB TEST: not a speed claim. It checks that sndbuf/rcvbuf reach the sockets. ---
# With 4096 asked (8192 after Linux doubles it), no single read can return much
# more than one buffer, so 4 MiB takes at least ~512 reads instead of ~64.
# Loopback TCP is bounded by the receiver's buffer (the sender's is freed as soon
# as the segment is queued at the peer), a Unix stream socket by the sender's:
# setting both covers both.
@pytest.mark.parametrize("channel", ["tcp", "unix"])
def test_knob_small_buffers_reach_the_sockets(channel: Channel) -> None:
    tiny = IpcConfig(total=4 * MIB, repeats=1, sndbuf=4096, rcvbuf=4096)
    default = IpcConfig(total=4 * MIB, repeats=1)
    small_calls = measure(channel, tiny).syscalls
    default_calls = measure(channel, default).syscalls
    assert small_calls >= tiny.total // 16384, (small_calls, default_calls)
    assert small_calls > 2 * default_calls, (small_calls, default_calls)
