from __future__ import annotations

from collections.abc import Iterator

import pytest

from sockscope.settings import Settings

from live import LiveServer, serve


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[LiveServer]:
    # A short command wait (a blocking call answers "blocked" after 0.2 s) and no rate
    # limit to speak of: the fuzzer sends hundreds of commands a second.
    yield from serve(
        Settings(
            command_wait=0.2,
            commands_per_second=100_000,
            labs_per_client=60,
            labs_per_minute=100_000,
        )
    )
