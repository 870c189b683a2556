"""The title cell of every notebook: one measured Time line, no placeholder left behind."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")) + sorted((ROOT / "course").glob("[0-9][0-9]_*.ipynb"))


# Catches: a Time line that once spanned two lines, of which benchmarks/notebook_times.py replaced only the
# first, leaving "CPU (TIME_FAST in fast mode)" in front of the learner (it happened in 06 and 10).
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_time_line_is_one_measured_line(notebook):
    title = nbformat.read(notebook, as_version=4).cells[0].source
    assert not re.search(r"TIME_[A-Z]+", title), "a Time placeholder was left in the title cell"
    lines = title.splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith("**Time:**")]
    assert len(at) == 1, "the title cell needs exactly one **Time:** line"
    following = lines[at[0] + 1] if at[0] + 1 < len(lines) else ""
    assert not following.strip() or following.startswith("**"), f"leftover after the Time line: {following!r}"
