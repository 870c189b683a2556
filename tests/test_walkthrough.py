"""Play the learner through every student notebook in course/, in one kernel per notebook (issue 9 §3, §4).

First the whole notebook runs with every blank left as it is: no cell may show a traceback, each exercise
must say "not done yet" (naming the exercise), a cell without a blank must never complain about one, and
every lesson claim (``radkit.exercises.expect``) must hold. Then, in the same kernel, each exercise cell
is run again with each of its ``wrong`` answers (the check must reject it) and with the text its
``solution()`` prints (the check must say correct). Cost: about one fast-mode execution per notebook.
Notebooks are found by glob, so notebooks added later are played too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
COURSE = sorted((ROOT / "course").glob("[0-9][0-9]_*.ipynb"))
BLANK_LINE = re.compile(r"^([ \t]*)[A-Za-z_]\w*\s*=\s*____\s*(#.*)?$")
CHECK = re.compile(r"\b(q\d+)\.check\(")
# Notebooks whose fixes for issue 9 land from other branches (found by this test on branch learn-a: exercises
# without wrong= answers; 05 cell 23 and 09 cell 25 need an exercise's answer; 09 Exercise 1 crashes with
# its blank). Expected to fail until those branches are merged; remove each entry once its notebook passes.
PENDING: dict[str, str] = {}  # notebook name -> why its walk-through is expected to fail (none now)


def output_text(cell) -> str:
    """All a cell printed, tracebacks included."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append("TRACEBACK " + out.ename + ": " + out.evalue)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def with_answer(source: str, answer: str) -> str:
    """The exercise cell with its blank lines (``name = ____``) replaced by ``answer``, indented to fit."""
    lines = source.splitlines()
    blank = [i for i, line in enumerate(lines) if BLANK_LINE.match(line)]
    assert blank, "an exercise cell without a blank"
    indent = BLANK_LINE.match(lines[blank[0]]).group(1)
    answer_lines = [indent + line if line.strip() else line for line in answer.splitlines()]
    return "\n".join(lines[:blank[0]] + answer_lines + lines[blank[-1] + 1:])


class Learner:
    """One kernel that runs cells of one notebook, as a learner pressing Shift+Enter."""

    def __init__(self, client):
        self.client = client
        self.count = 0

    def run(self, source: str, tags=()) -> str:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = list(tags)
        self.count += 1
        self.client.execute_cell(cell, self.count)
        return output_text(cell)


def exercise_answers(learner: Learner, name: str) -> tuple[list[str], str]:
    """The wrong answers and the solution of exercise ``name``, asked from the kernel that imported it."""
    text = learner.run(f"import json as _json\nprint(_json.dumps([list({name}.wrong), {name}.solution_code]))")
    wrong, solution = json.loads(text.strip().splitlines()[-1])
    return wrong, solution


# Catches, per notebook: a blank that crashes or destroys earlier work, an exercise that does not say "not done
# yet", a cell without a blank that claims one (or depends on an unfinished exercise), a lesson claim that fails
# in fast mode, an exercise without a wrong answer, a check that accepts a wrong answer or refuses its solution.
@pytest.mark.parametrize("notebook", [
    pytest.param(p, marks=pytest.mark.xfail(reason=PENDING[p.name], strict=False)) if p.name in PENDING else p
    for p in COURSE], ids=lambda p: p.name)
def test_learner_walkthrough(notebook):
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(notebook, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(notebook.parent)}})
    problems = []
    exercise_cells = []
    with client.setup_kernel():
        learner = Learner(client)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            tags = cell.metadata.get("tags", [])
            out = learner.run(cell.source, tags)
            where = f"{notebook.name} cell {index} ({cell.source.strip().splitlines()[0][:50]!r})"
            if "TRACEBACK" in out and "raises-exception" not in tags:
                problems.append(f"{where}: a traceback with its blanks untouched: {out[-300:]}")
            if "the lesson hold on this run?" in out and re.search(r"hold on this run\? .*: NO", out):
                problems.append(f"{where}: a lesson claim does not hold: {out.strip()[-300:]}")
            exercise = CHECK.search(cell.source)
            if "____" in cell.source and exercise:
                name = exercise.group(1)
                exercise_cells.append((index, name, cell.source))
                if f"{name}: not done yet" not in out:
                    problems.append(f"{where}: with its blank, {name} does not say 'not done yet': {out[-300:]}")
            elif "raises-exception" not in tags and ("not done yet" in out or "not filled in yet" in out
                                                       or "still has a blank" in out):
                problems.append(f"{where}: a cell without a blank complains about one: {out[-300:]}")
        for index, name, source in exercise_cells:
            wrong, solution = exercise_answers(learner, name)
            if not wrong:
                problems.append(f"{notebook.name} {name}: no wrong answers to test the check with")
            for answer in wrong:
                out = learner.run(with_answer(source, answer))
                if f"{name}: not quite" not in out or "TRACEBACK" in out:
                    problems.append(f"{notebook.name} {name}: wrong answer {answer!r} not rejected: {out[-300:]}")
            out = learner.run(with_answer(source, solution))
            if f"{name}: correct" not in out:
                problems.append(f"{notebook.name} {name}: its own solution is not accepted: {out[-300:]}")
    assert not problems, "\n".join(problems)
