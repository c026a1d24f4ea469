"""Asking the kernel whether it can drop loopback packets leaves lo as it was."""

from __future__ import annotations

import shutil
import subprocess

from sockscope.engine.netfault import can_drop_packets


def qdisc() -> str:
    tc = shutil.which("tc")
    if tc is None:
        return "no tc"
    return subprocess.run([tc, "qdisc", "show", "dev", "lo"], capture_output=True, text=True,
                          timeout=5, check=False).stdout  # fmt: skip


def test_the_answer_gives_a_reason_and_lo_is_untouched() -> None:
    before = qdisc()
    possible, why = can_drop_packets()
    assert isinstance(possible, bool) and len(why) > 20
    if not possible:
        assert any(word in why for word in ("tc", "kernel", "qdisc"))
    assert qdisc() == before
