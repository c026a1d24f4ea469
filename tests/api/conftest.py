from __future__ import annotations

from collections.abc import Iterator

import pytest

from sockscope.settings import Settings

from live import LiveServer, serve

__all__ = ["LiveServer", "serve"]


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    yield from serve(Settings(command_wait=1.0))
