"""The radkit command."""

from __future__ import annotations

import pytest

from radkit import cli


def test_fetch_offline_fails_with_a_plain_message(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("RADKIT_OFFLINE", "1")
    assert cli.main(["fetch", "pneumoniamnist", "--size", "64"]) == 2
    assert "run.py fetch pneumoniamnist" in capsys.readouterr().err


def test_fetch_from_local_copy(shared_data, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("RADKIT_LOCAL_DATA", str(shared_data))
    assert cli.main(["fetch", "pneumoniamnist", "--size", "28"]) == 0
    out = capsys.readouterr().out
    # The shared copy is a cut-down teaching file: it must not be reported as the verified official one.
    assert "UNVERIFIED PneumoniaMNIST, 28 px:" in out and "(28)" not in out


# Bug caught: build-course that writes nothing (or writes the answers into the student copy) passed,
# because the old test ran it on an empty folder and checked only the exit code.
def test_build_course_and_cards(tmp_path, capsys):
    import nbformat

    assert cli.main(["cards", "--folder", str(tmp_path / "cards")]) == 0
    assert (tmp_path / "cards" / "pneumoniamnist.md").exists()
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("# BEGIN SOLUTION\nanswer = 6 * 7\n# END SOLUTION\nprint(answer)")
    cell.outputs = [nbformat.v4.new_output("stream", text="42\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# A lesson"), cell]
    nbformat.write(nb, solutions / "07_lesson.ipynb")
    assert cli.main(["build-course", "--solutions", str(solutions), "--course", str(tmp_path / "course")]) == 0
    student = nbformat.read(tmp_path / "course" / "07_lesson.ipynb", as_version=4)
    code = student.cells[1]
    assert code.source == "answer = ____  # YOUR CODE HERE\nprint(answer)" and code.outputs == []
    assert "wrote" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()  # nothing to build is an error, not a silent success
    assert cli.main(["build-course", "--solutions", str(tmp_path / "empty"), "--course", str(tmp_path / "c2")]) == 2
    assert "no solution notebooks" in capsys.readouterr().err


def test_unknown_command_is_refused():
    with pytest.raises(SystemExit):
        cli.main(["frobnicate"])


# Bug caught: `python -m radkit doctor` failed (there was no radkit/__main__.py).
def test_python_dash_m_radkit_runs_the_command_line():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-m", "radkit", "--help"], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)
    assert result.returncode == 0 and "doctor" in result.stdout and "fetch" in result.stdout


# Bug caught: `radkit cards --folder` overwrote any same-named .md file (e.g. the user's own notes).
def test_cards_never_overwrite_a_file_they_did_not_write(tmp_path, capsys):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "pneumoniamnist.md").write_text("my own notes on pneumonia")
    assert cli.main(["cards", "--folder", str(folder)]) == 2
    assert "not written by `radkit cards`" in capsys.readouterr().err
    assert (folder / "pneumoniamnist.md").read_text() == "my own notes on pneumonia"
    assert cli.main(["cards", "--folder", str(tmp_path / "cards")]) == 0
    assert cli.main(["cards", "--folder", str(tmp_path / "cards")]) == 0  # its own cards are rewritten
