"""The command-rate token bucket, driven with explicit times (no clock, no sleeps)."""

from __future__ import annotations

from sockscope.labs.limits import TokenBucket

# Rates and times are binary fractions so that refills come out exact.
T0 = 1000.0


def takes(bucket: TokenBucket, now: float, count: int) -> list[bool]:
    return [bucket.take(now) for _ in range(count)]


def test_a_full_bucket_allows_a_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=T0)
    assert takes(bucket, T0, 4) == [True, True, True, False]


def test_tokens_come_back_at_the_rate() -> None:
    bucket = TokenBucket(rate=4.0, burst=2, now=T0)
    assert takes(bucket, T0, 3) == [True, True, False]
    assert takes(bucket, T0 + 0.25, 2) == [True, False]  # 0.25 s * 4/s = one token
    assert takes(bucket, T0 + 0.75, 3) == [True, True, False]


def test_partial_tokens_add_up() -> None:
    bucket = TokenBucket(rate=2.0, burst=1, now=T0)
    assert bucket.take(T0) is True
    assert bucket.take(T0 + 0.25) is False  # half a token
    assert bucket.take(T0 + 0.5) is True  # the other half arrived


def test_an_idle_bucket_does_not_overfill() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=T0)
    assert takes(bucket, T0, 3) == [True] * 3
    assert takes(bucket, T0 + 3600.0, 5) == [True, True, True, False, False]


def test_refused_takes_do_not_spend() -> None:
    bucket = TokenBucket(rate=1.0, burst=1, now=T0)
    assert bucket.take(T0) is True
    assert takes(bucket, T0 + 0.5, 10) == [False] * 10
    assert bucket.take(T0 + 1.0) is True
