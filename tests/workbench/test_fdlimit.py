"""select() and descriptor 1024, in a child process: ValueError, while poll() and epoll see it."""

from __future__ import annotations

import os

import pytest

from sockscope.workbench import fdlimit


def test_select_refuses_descriptor_1024_and_poll_and_epoll_do_not() -> None:
    before = len(os.listdir("/proc/self/fd"))
    report = fdlimit.probe()
    assert report["high"]["fd"] >= 1024 and report["opened"] > 1000
    assert report["high"]["select"] == "ValueError: filedescriptor out of range in select()"
    assert report["high"]["poll"] == report["high"]["epoll"] == "readable"
    assert report["low"]["select"] == "readable"
    assert len(os.listdir("/proc/self/fd")) == before  # the thousand were the child's


def test_below_the_limit_select_answers_like_the_others() -> None:
    report = fdlimit.probe(64)
    assert report["high"]["fd"] == 64 and report["high"]["select"] == "readable"


def test_a_limit_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="at_least"):
        fdlimit.probe(100_000)
