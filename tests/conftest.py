from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# Every lab in the suite checks, on each select() turn, that the lists it kept from an earlier
# turn are the ones its sockets ask for now (engine/lab.py, CHECK_TURNS): set before the
# engine is imported, and passed on to lab host processes.
os.environ["SOCKSCOPE_CHECK_TURNS"] = "1"


@pytest.fixture(autouse=True)
def _kept_lists_stay_true() -> Iterator[None]:
    """Fails a test in which some lab's kept select() lists were out of date."""
    from sockscope.engine import lab

    yield
    failures, lab.TURN_CHECK_FAILURES[:] = list(lab.TURN_CHECK_FAILURES), []
    assert not failures, f"select()'s kept lists were out of date: {failures[:3]}"
