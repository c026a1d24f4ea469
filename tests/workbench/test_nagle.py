"""Two small writes then a read: the delayed ACK shows with Nagle on, not without."""

from __future__ import annotations

import pytest

from sockscope.workbench import nagle


def test_the_two_writes_wait_for_the_delayed_ack_and_the_others_do_not() -> None:
    results = {r.way: r for r in nagle.compare(nagle.NagleConfig(rounds=5, warmup=3))}
    assert set(results) == {"nagle", "nodelay", "one_write"}
    assert all(len(r.rounds_ms) == 5 for r in results.values())
    assert results["nagle"].median_ms >= 20  # Linux's delayed ACK: 40 ms, give or take
    assert results["nodelay"].median_ms * 10 < results["nagle"].median_ms
    assert results["one_write"].median_ms * 10 < results["nagle"].median_ms


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="rounds"):
        nagle.NagleConfig(rounds=0)
    with pytest.raises(ValueError, match="size"):
        nagle.NagleConfig(size=5000)
