"""Labs are created with unguessable ids, limited in number, and reaped when idle and unwatched."""

from __future__ import annotations

import time

import pytest

from sockscope.engine.core.policy import LabPolicy
from sockscope.labs.registry import LabRegistry, TooManyLabs


@pytest.fixture
def registry() -> LabRegistry:
    reg = LabRegistry(LabPolicy(), max_labs=2, idle_timeout=60.0)
    yield reg  # type: ignore[misc]
    reg.close_all()


def test_ids_are_long_random_and_distinct(registry: LabRegistry) -> None:
    a, b = registry.create(), registry.create()
    assert a.id != b.id and len(a.id) >= 22  # 16 random bytes in url-safe base64
    assert registry.get(a.id) is a


def test_the_lab_limit_is_a_clear_error(registry: LabRegistry) -> None:
    registry.create()
    registry.create()
    with pytest.raises(TooManyLabs) as refused:
        registry.create()
    assert refused.value.status == 503 and "2 labs" in refused.value.message


def test_idle_unwatched_labs_are_reaped_and_their_sockets_closed(registry: LabRegistry) -> None:
    idle, watched = registry.create(), registry.create()
    watched.viewers = 1
    later = time.monotonic() + 61
    assert registry.reap(now=later) == [idle.id]
    assert idle.engine.closed.wait(5)
    assert registry.get(idle.id) is None and registry.get(watched.id) is watched
    watched.viewers = 0
    watched.touch()
    assert registry.reap(now=time.monotonic() + 30) == []  # recently active


def test_delete_closes_the_lab(registry: LabRegistry) -> None:
    lab = registry.create()
    assert registry.delete(lab.id) is True
    assert lab.engine.closed.is_set()
    assert registry.delete(lab.id) is False
