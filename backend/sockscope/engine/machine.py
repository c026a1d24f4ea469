"""Facts about the machine the engine runs on that the kernel does not report by itself."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def in_container(root: Path = Path("/"), environ: dict[str, str] | None = None) -> bool:
    """Does this process run in a container?

    SOCKSCOPE_IN_CONTAINER=1/0 says so outright (the image sets it); otherwise Docker's
    /.dockerenv, Podman's /run/.containerenv, or docker/containerd in the cgroup of
    process 1 tell. ``root`` and ``environ`` let a test hand in a fake machine.
    """
    said = (os.environ if environ is None else environ).get("SOCKSCOPE_IN_CONTAINER")
    if said in ("1", "0"):
        return said == "1"
    if (root / ".dockerenv").exists() or (root / "run" / ".containerenv").exists():
        return True
    try:
        cgroup = (root / "proc" / "1" / "cgroup").read_text(errors="replace")
    except OSError:
        return False
    return "docker" in cgroup or "containerd" in cgroup


def ipv6_missing() -> str | None:
    """Why an IPv6 socket cannot bind ::1 here (IPv6 off in the kernel or the container's
    network), or None when it can."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
