"""course/ is made from solutions/, and stays in step with it."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from radkit.course import build_course, render, strip_solutions, student_notebook
from radkit.errors import RadkitError

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def test_solution_block_becomes_one_blank_per_name():
    source = "level, width = 40, 400\n# BEGIN SOLUTION\nlow = level - width / 2\nhigh = level + width / 2\n" \
             "# END SOLUTION\nq1.check(low, high)"
    student = strip_solutions(source)
    assert "level - width" not in student
    assert "low = ____  # YOUR CODE HERE\nhigh = ____  # YOUR CODE HERE" in student
    assert student.endswith("q1.check(low, high)")


def test_indented_block_and_function_answers():
    source = "if True:\n    # BEGIN SOLUTION\n    def f(x):\n        return 2 * x\n    # END SOLUTION\n    pass"
    assert "    f = ____  # YOUR CODE HERE" in strip_solutions(source)


def test_block_that_assigns_nothing_is_refused():
    with pytest.raises(RadkitError, match="assigns no name"):
        strip_solutions("# BEGIN SOLUTION\nprint('hi')\n# END SOLUTION")


def test_unclosed_block_is_refused():
    with pytest.raises(RadkitError, match="without '# END SOLUTION'"):
        strip_solutions("# BEGIN SOLUTION\nx = 1")


def test_build_course_writes_student_notebooks(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 99 · Test"),
                nbformat.v4.new_code_cell("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\nprint(x)",
                                          outputs=[nbformat.v4.new_output("stream", text="1\n")], execution_count=1)]
    (tmp_path / "solutions").mkdir()
    nbformat.write(nb, tmp_path / "solutions" / "99_test.ipynb")
    [written] = build_course(tmp_path / "solutions", tmp_path / "course")
    cell = nbformat.read(written, as_version=4).cells[1]
    assert cell.source == "x = ____  # YOUR CODE HERE\nprint(x)"
    assert cell.outputs == [] and cell.execution_count is None


def test_there_are_solution_notebooks():
    assert SOLUTIONS, "solutions/ holds no notebooks"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_course_is_in_step_with_solutions(solution):
    course = ROOT / "course" / solution.name
    assert course.exists(), f"course/{solution.name} is missing: run `radkit build-course`"
    assert course.read_text(encoding="utf-8") == render(student_notebook(solution)), \
        f"course/{solution.name} is out of date: run `radkit build-course`"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_notebook_has_the_course_shape(solution):
    nb = nbformat.read(solution, as_version=4)
    first = nb.cells[0].source
    assert first.startswith(f"# {solution.name[:2]} ·"), "title cell: '# NN · Title'"
    assert "**Time:**" in first and "TIME_ESTIMATE" not in first, "a measured time estimate"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown").lower()
    assert "key points" in text and "objectives" in text
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "radkit.setup()" in code[0].source
    for before, cell in zip(nb.cells, nb.cells[1:]):
        if cell.cell_type == "code":
            is_hint_cell = cell.source.lstrip().startswith("# q")  # e.g. "# q1.hint()" right after its exercise
            assert before.cell_type == "markdown" or is_hint_cell, \
                f"prose before every code cell (cell starting {cell.source[:40]!r})"


def test_student_notebook_drops_saved_widget_state(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"state": {"big": "x" * 100}}})
    nbformat.write(nb, tmp_path / "01_x.ipynb")
    assert "widgets" not in student_notebook(tmp_path / "01_x.ipynb").metadata
