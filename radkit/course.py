"""Make the student notebooks in ``course/`` from the complete ones in ``solutions/``.

``solutions/`` is the single source. In a solution code cell, the lines
between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` are the answer. In the
student copy they become one blank per name the answer assigns::

    # BEGIN SOLUTION                      low = ____  # YOUR CODE HERE
    low = level - width / 2        ->     high = ____  # YOUR CODE HERE
    high = level + width / 2
    # END SOLUTION

Using a blank before filling it in gives a friendly message (see
``radkit.exercises``). Run ``radkit build-course`` after editing a solution;
a test fails when ``course/`` is out of date.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

from radkit.errors import RadkitError

BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")


def _assigned_names(block: list[str]) -> list[str]:
    """Names assigned at the top level of a solution block, in order."""
    source = "\n".join(block)
    indent = min((len(line) - len(line.lstrip()) for line in block if line.strip()), default=0)
    source = "\n".join(line[indent:] for line in block)
    tree = ast.parse(source)
    names: list[str] = []
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name) and sub.id not in names:
                    names.append(sub.id)
    return names


def strip_solutions(source: str, where: str = "a cell") -> str:
    """Return the student version of one code cell's source."""
    out: list[str] = []
    block: list[str] | None = None
    indent = ""
    for line in source.splitlines():
        start = BEGIN.match(line)
        if block is None and start:
            block, indent = [], start.group(1)
        elif block is not None and END.match(line):
            names = _assigned_names(block)
            if not names:
                raise RadkitError(
                    f"The solution block in {where} assigns no name, so the student copy would have no blank.",
                    "Make the answer assign a variable (for example `answer = ...`).",
                )
            out.extend(f"{indent}{name} = ____  # YOUR CODE HERE" for name in names)
            block = None
        elif block is not None:
            block.append(line)
        else:
            out.append(line)
    if block is not None:
        raise RadkitError(f"{where} has '# BEGIN SOLUTION' without '# END SOLUTION'.",
                          "Close the block with a line '# END SOLUTION'.")
    return "\n".join(out)


def student_notebook(solution_path: Path) -> nbformat.NotebookNode:
    """Read one solution notebook and return its student version (no answers, no outputs)."""
    nb = nbformat.read(solution_path, as_version=4)
    nb.metadata.pop("widgets", None)  # saved slider state: changes every run, and students make their own
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.source = strip_solutions(cell.source, where=f"{solution_path.name}, cell {index}")
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)
    return nb


def build_course(solutions: Path, course: Path) -> list[Path]:
    """Write ``course/NN_name.ipynb`` for every ``solutions/NN_name.ipynb``. Returns the paths written."""
    solutions, course = Path(solutions), Path(course)
    course.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(solutions.glob("[0-9][0-9]_*.ipynb")):
        target = course / path.name
        target.write_text(render(student_notebook(path)), encoding="utf-8")
        written.append(target)
    return written


def render(nb: nbformat.NotebookNode) -> str:
    """The exact text a notebook is saved as (so the sync test can compare text)."""
    return nbformat.writes(nb) + "\n"
