"""Build Sockscope's wheel from this tree, the way a release or the image would install it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "backend" / "sockscope"
NOT_SHIPPED = {"__pycache__"}  # folders a run of the tree makes, never read from a wheel


def build_wheel(out: Path) -> Path:
    """Builds the wheel into ``out`` with the build backend already in this environment.

    No build isolation: the pinned setuptools (requirements/build.txt) is installed, and an
    isolated build would fetch another one from the network.
    """
    if not (PACKAGE / "static" / "index.html").is_file():
        raise RuntimeError("the front end is not built: run `make ui` first")
    # A copy of just what the build reads: an in-tree build would reuse a stale build/ folder.
    source = out / "source"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "backend", source / "backend",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(source)],
        check=True, timeout=300,
    )  # fmt: skip
    (wheel,) = out.glob("sockscope-*.whl")
    return wheel


def package_files() -> set[str]:
    """Every file of the package in this tree, as the wheel names it (sockscope/...)."""
    return {
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*")
        if path.is_file()
        and not NOT_SHIPPED & set(path.relative_to(PACKAGE).parts)
        and path.suffix not in {".pyc", ".pyo"}
    }


def missing_from(shipped: set[str]) -> list[str]:
    """The package's files that a wheel holding ``shipped`` lacks."""
    return sorted(package_files() - shipped)


def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if not name.endswith("/")}
