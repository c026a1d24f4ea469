"""The lock files pin every dependency pyproject.toml names, at a version it allows."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {
        canonicalize_name(name): version
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)
    }


@pytest.mark.parametrize(
    ("lock", "wanted"),
    [
        ("run.txt", PROJECT["dependencies"]),
        ("dev.txt", PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"]),
    ],
)
def test_every_dependency_is_pinned_within_its_range(lock: str, wanted: list[str]) -> None:
    pinned = pins(lock)
    for spec in map(Requirement, wanted):
        name = canonicalize_name(spec.name)
        assert name in pinned, f"{spec.name} is not in requirements/{lock}: run `make lock`"
        assert spec.specifier.contains(pinned[name]), (
            f"requirements/{lock} pins {spec.name}=={pinned[name]}, outside {spec.specifier}:"
            " run `make lock`"
        )


def test_every_pin_carries_a_hash() -> None:
    for lock in ("run.txt", "dev.txt", "build.txt"):
        text = (ROOT / "requirements" / lock).read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.split("\n", 2)[-1])
        for block in filter(str.strip, blocks):
            assert "--hash=sha256:" in block, f"requirements/{lock}: no hash in {block[:60]!r}"


def test_the_build_backend_is_pinned() -> None:
    backend = Requirement(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"][0]
    )
    pinned = pins("build.txt")
    assert backend.specifier.contains(pinned[canonicalize_name(backend.name)])
