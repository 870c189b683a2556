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


# ---------------------------------------------------------------- every timing table from one file

def _timing_script():
    import runpy

    return runpy.run_path(str(ROOT / "benchmarks" / "notebook_times.py"))


# Catches: run times written by hand in three places (README, INSTRUCTORS.md, each title cell) that drift
# apart; all three must be what benchmarks/notebook_times.json renders to.
def test_timing_tables_are_rendered_from_the_one_file(tmp_path):
    import shutil

    script = _timing_script()
    figures = script["load_figures"]()
    for name in ("README.md", "INSTRUCTORS.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    assert script["render"](figures, root=tmp_path, notebooks=False) == [], \
        "README.md or INSTRUCTORS.md differ from benchmarks/notebook_times.json: run " \
        "`python benchmarks/notebook_times.py --render`"
    for name, entry in figures["notebooks"].items():
        path = ROOT / "solutions" / name
        if path.exists():
            title = nbformat.read(path, as_version=4).cells[0].source
            assert script["time_line"](entry) in title.splitlines(), f"{name}: Time line not from the figures file"


# The renderer itself, on a temporary copy: a new figure reaches the README, INSTRUCTORS.md and the title cell.
def test_render_writes_a_new_figure_everywhere(tmp_path):
    import json
    import shutil

    script = _timing_script()
    figures = script["load_figures"]()
    name = sorted(figures["notebooks"])[0]
    for document in ("README.md", "INSTRUCTORS.md"):
        shutil.copy(ROOT / document, tmp_path / document)
    (tmp_path / "solutions").mkdir()
    shutil.copy(ROOT / "solutions" / name, tmp_path / "solutions" / name)
    figures = json.loads(json.dumps(figures))
    figures["notebooks"][name].update(teaching_minutes=97, seconds={"full": 5400, "fast": 61},
                                      peak_mb={"full": 9216, "fast": 8192})
    changed = script["render"](figures, root=tmp_path)
    assert sorted(p.name for p in changed) == sorted(["README.md", "INSTRUCTORS.md", name])
    label = name.removesuffix(".ipynb").replace("_", " ", 1)
    readme = (tmp_path / "README.md").read_text()
    assert f"| {label} | 97 + " in readme and "| 90.0 min | 1.0 min | 9.0 GB |" in readme
    assert f"| {label} | 9.0 GB | 8.0 GB |" in (tmp_path / "INSTRUCTORS.md").read_text()
    title = nbformat.read(tmp_path / "solutions" / name, as_version=4).cells[0].source
    assert "about 97 min teaching" in title and "takes 90.0 min" in title and "(1.0 min in fast mode)" in title
    assert script["render"](figures, root=tmp_path) == []  # a second render changes nothing
    (tmp_path / "README.md").write_text("# no markers\n")
    with pytest.raises(SystemExit, match="no generated table"):
        script["render"](figures, root=tmp_path)
