"""The wheel carries every file of the package: what `pip install .` gives is what runs."""

from __future__ import annotations

from pathlib import Path

from installed.wheel import build_wheel, missing_from, package_files, wheel_files


def test_the_wheel_holds_every_file_the_package_reads(tmp_path: Path) -> None:
    shipped = wheel_files(build_wheel(tmp_path))
    missing = missing_from(shipped)
    assert not missing, f"files under backend/sockscope/ missing from the wheel: {missing}"
    assert any(name.startswith("sockscope/lessons/data/") for name in shipped)
    assert "sockscope/static/index.html" in shipped


def test_a_file_left_out_of_the_package_data_is_noticed() -> None:
    here = package_files()
    lesson = "sockscope/lessons/data/03-partial-send.toml"
    assert lesson in here and "sockscope/static/index.html" in here
    assert not any("__pycache__" in name for name in here)
    assert missing_from(here - {lesson}) == [lesson]
    assert missing_from(here) == []
