"""Every notebook's structure: exercises numbered like their checks, and links that resolve (issue 9 §5)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")) + sorted(
    (ROOT / "course").glob("[0-9][0-9]_*.ipynb"))
HEADING = re.compile(r"^#{2,4}\s*Exercise\s+(\d+)\b", re.MULTILINE)
CALL = re.compile(r"\bq(\d+)\.(check|hint|solution)\(")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def exercise_pairs(nb) -> list[tuple[int, list[int], int]]:
    """For each "### Exercise N" heading: N, the q-numbers used by the code cells up to the next heading, cell index."""
    pairs = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for number in HEADING.findall(cell.source):
                pairs.append((int(number), [], index))
        elif pairs:
            pairs[-1][1].extend(int(n) for n, _ in CALL.findall(cell.source))
    return pairs


def test_exercise_pairs_finds_a_mismatch():
    """The helper below must be able to see the bug it guards against (02's "Exercise 2" calling q3)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("### Exercise 2\nWhich is unsafe?"),
                nbformat.v4.new_code_cell("unsafe = 'C'\nq3.check(unsafe)"),
                nbformat.v4.new_code_cell("# q3.hint()")]
    assert exercise_pairs(nb) == [(2, [3, 3], 0)]


# Catches "Exercise N" whose cells call another exercise's check or hint (issue 9 §5: 02's Exercise 2 called q3),
# and exercises numbered out of order.
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_exercise_numbers_match_their_checks(notebook):
    nb = nbformat.read(notebook, as_version=4)
    pairs = exercise_pairs(nb)
    wrong = [(n, used) for n, used, _ in pairs if not used or set(used) != {n}]
    assert not wrong, f"Exercise N must call only qN.check/hint/solution; found (N, q-numbers used): {wrong}"
    assert [n for n, _, _ in pairs] == list(range(1, len(pairs) + 1)), "exercises numbered 1, 2, 3, ... in order"
    checks = {int(n) for cell in nb.cells if cell.cell_type == "code" for n, kind in CALL.findall(cell.source)
              if kind == "check"}
    assert checks == {n for n, _, _ in pairs}, "every qN.check has its '### Exercise N' heading"


# Catches links to notebooks or files that do not exist (issue 9 §5: 02 -> 10 before 10 existed). Checks the
# files present now, so a link to a notebook another branch adds passes once that notebook is merged.
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_link_resolves(notebook):
    nb = nbformat.read(notebook, as_version=4)
    broken = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for target in LINK.findall(cell.source):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue  # web addresses and links within the page
            path = target.split("#")[0]
            if path and not (notebook.parent / path).exists():
                broken.append(target)
    assert not broken, f"links to files that do not exist: {broken}"


# Catches a solution() text that differs from the notebook's own answer, so the walk-through would test
# one answer while the learner sees another.
PENDING_SOLUTION_TEXT: set[str] = set()  # notebooks whose solution() text is being fixed on another branch


@pytest.mark.parametrize("notebook", [
    pytest.param(p, marks=pytest.mark.xfail(reason="fixed on learn-b's branch", strict=False))
    if p.name in PENDING_SOLUTION_TEXT else p
    for p in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))], ids=lambda p: p.name)
def test_solution_text_is_the_notebooks_answer(notebook):
    import importlib

    nb = nbformat.read(notebook, as_version=4)
    module = None
    for cell in nb.cells:
        found = re.search(r"from radkit\.checks\.(nb\d\d) import", cell.source)
        if found:
            module = importlib.import_module(f"radkit.checks.{found.group(1)}")
        block = re.search(r"# BEGIN SOLUTION\n(.*?)\n\s*# END SOLUTION", cell.source, re.DOTALL)
        check = re.search(r"\b(q\d+)\.check\(", cell.source)
        if block and check and module is not None:
            lines = block.group(1).splitlines()
            indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
            answer = "\n".join(line[indent:] for line in lines)
            assert answer == getattr(module, check.group(1)).solution_code, \
                f"{check.group(1)}'s solution text differs from the notebook's answer"
