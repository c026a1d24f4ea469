"""Can this machine drop loopback packets for real (so TCP itself retransmits and gives up)?

Real loss needs the kernel's help: a netem qdisc on lo (tc, root or CAP_NET_ADMIN, and
the sch_netem module) or a network namespace whose link is cut. Sockscope asks the
kernel rather than guessing: it tries to attach a netem qdisc with 0% loss to lo and
removes it at once. A lesson then says plainly whether real loss is possible here.
"""

from __future__ import annotations

import shutil
import subprocess


def can_drop_packets() -> tuple[bool, str]:
    """(possible, why) for this machine, tried for real."""
    tc = shutil.which("tc")
    if tc is None:
        return False, "tc (iproute2) is not installed, so no qdisc can drop packets"
    try:
        shown = subprocess.run([tc, "qdisc", "show", "dev", "lo"], capture_output=True,
                               text=True, timeout=5, check=False)  # fmt: skip
        if "noqueue" not in shown.stdout:
            return (
                False,
                f"lo already has a queueing discipline ({shown.stdout.strip()}): not touched",
            )
        added = subprocess.run([tc, "qdisc", "add", "dev", "lo", "root", "netem", "loss", "0%"],
                               capture_output=True, text=True, timeout=5, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"tc could not run: {exc}"
    if added.returncode != 0:
        return (
            False,
            f"the kernel refused a netem qdisc on lo: {added.stderr.strip() or added.returncode}",
        )
    subprocess.run([tc, "qdisc", "del", "dev", "lo", "root"], capture_output=True, timeout=5,
                   check=False)  # fmt: skip
    return True, "this machine can drop loopback packets (netem on lo)"
