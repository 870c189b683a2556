"""Exercises with instant feedback: ``q1.check()``, ``q1.hint()``, ``q1.solution()``.

Introduced in notebook 00_start_here. In the student notebooks each
exercise has a blank, written ``____`` (four underscores), for the learner to
replace. (Not three: IPython uses ``___`` for its own output history.) Using a
blank that is still empty gives a friendly message instead of a long error
from deep inside a library.

Each notebook's exercises live in ``radkit/checks/nbNN.py``; the sentences their checks say, in
``radkit.exercises.feedback``.
"""

from __future__ import annotations

import re
from typing import Callable

from radkit.errors import RadkitError, ipython_shell
from radkit.exercises.feedback import (  # noqa: F401 - the helpers every checks module imports from here
    _is_function, _kind, _running, _thousands, bool_problem, cell_code, choice_problem, close_to, diagnose_bool,
    diagnose_number, diagnose_numbers, diagnose_on_data, diagnose_value, number_problem, set_problem, short,
)


class ExerciseNotDone(RadkitError):
    """Raised when a blank ``____`` is used before it has been filled in."""


# The notebook cell being run (``_running``, kept by a hook that radkit.setup() installs), so that a message
# about a blank can name the exercise and the variable, and know whether this very cell holds the blank.
_CHECK_CALL = re.compile(r"\b(q\d+)\.check\(")
_SOLUTION_NAMES = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)[ \t]*=(?!=)", re.MULTILINE)
_BLANK_ASSIGNMENT = re.compile(r"^[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*____\b", re.MULTILINE)


def _exercise_in(source: str) -> str | None:
    found = _CHECK_CALL.findall(source)
    return found[-1] if found else None


def _names(names) -> str:
    return " and ".join(f"`{name}`" for name in names)


def not_done_message(exercise: str | None, variables=()) -> tuple[str, str]:
    """The (problem, fix) said when an exercise's blank is still empty: names the exercise and the variable."""
    what = f"{exercise}: not done yet." if exercise else "Not done yet."
    still = f" {_names(variables)} {'is' if len(variables) == 1 else 'are'} still blank (____)." if variables else (
        " This cell still has a blank (____) in it.")
    hint = f" Need a hint? Run {exercise}.hint()" if exercise else " Stuck? Run the hint cell below the exercise."
    return what + still, "Replace each ____ with your own code, then run the cell again." + hint


class _Blank:
    """The ``____`` placeholder. Any use of it says the exercise is not done yet.

    After an exercise cell runs, a blank it left is remembered with its variable and exercise
    (``_Blank("spec_ci", "q4")``), so a later cell that uses it says where to go, not "this cell has a blank".
    """

    variable: str | None = None
    exercise: str | None = None

    def __init__(self, variable: str | None = None, exercise: str | None = None):
        object.__setattr__(self, "variable", variable)
        object.__setattr__(self, "exercise", exercise)

    def _refuse(self, *args, **kwargs):
        source = _running["source"]
        if self.variable and "____" not in source:  # a later cell uses a blank an earlier exercise left
            done = f" (Exercise {self.exercise})" if self.exercise else ""
            raise ExerciseNotDone(
                f"`{self.variable}` is not filled in yet: it is the answer to an exercise above{done}, "
                "and this cell needs it. This cell itself has no blank.",
                f"Go back to that exercise and fill in its ____"
                + (f" (or copy the answer that {self.exercise}.solution() shows)" if self.exercise else "")
                + ", run it, then run this cell again.")
        variables = _BLANK_ASSIGNMENT.findall(source) or ([self.variable] if self.variable else [])
        raise ExerciseNotDone(*not_done_message(_exercise_in(source) or self.exercise, variables))

    def __repr__(self) -> str:
        return "____ (a blank for you to fill in)"

    # Every common way of using a value refuses politely.
    __call__ = __getitem__ = __iter__ = __len__ = _refuse

    def __getattr__(self, name):
        if name.startswith("_"):  # Python and Jupyter probing for optional features: not the learner's doing
            raise AttributeError(name)
        self._refuse()
    __bool__ = __int__ = __float__ = __index__ = __array__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __pow__ = __rpow__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = __neg__ = __abs__ = _refuse
    __matmul__ = __rmatmul__ = __mod__ = __rmod__ = __format__ = _refuse  # __format__: f"{answer:.2f}"
    __and__ = __rand__ = __or__ = __ror__ = __contains__ = __setitem__ = _refuse

    def __getstate__(self):  # keep pickling/copying from tripping over __getattr__
        return {}


____ = _Blank()


def _assigned_blanks(shell, raw_cell: str) -> list[str]:
    """Names the cell sets to a blank (``name = ____``), as the course's exercise cells do."""
    try:
        source = shell.transform_cell(raw_cell) if hasattr(shell, "transform_cell") else raw_cell
    except Exception:  # noqa: BLE001 - a cell IPython cannot transform will fail on its own
        source = raw_cell
    return _BLANK_ASSIGNMENT.findall(source)


class _KeepEarlierWork:
    """IPython hooks: a cell run with its blank never replaces a value computed earlier (issue 9 §4).

    Before the cell: remember the values of the names it sets to ``____``. After it: put back every
    earlier value the blank replaced, and label the blanks left with their variable and exercise.
    """

    def __init__(self, shell):
        self.shell = shell
        self.saved: dict = {}
        self.blanks: list[str] = []
        self.exercise: str | None = None

    def before(self, info=None):
        raw = getattr(info, "raw_cell", "") or ""
        _running["source"] = raw
        self.blanks = _assigned_blanks(self.shell, raw) if "____" in raw else []
        self.exercise = _exercise_in(raw)
        ns = self.shell.user_ns
        self.saved = {name: ns[name] for name in self.blanks if name in ns and not is_blank(ns[name])}

    def after(self, result=None):
        ns = self.shell.user_ns
        error = getattr(result, "error_in_exec", None)
        exercise = ns.get(self.exercise) if self.exercise else None
        if error is not None and isinstance(exercise, Exercise) and not isinstance(error, RadkitError):
            exercise.explain_error(error)  # the cell stopped before its check: still say something plain
        kept = []
        for name in self.blanks:
            if not isinstance(ns.get(name), _Blank):
                continue  # the learner filled it in
            if name in self.saved:
                ns[name] = self.saved[name]
                kept.append(name)
            else:
                ns[name] = _Blank(name, self.exercise)
        if kept:
            print(f"({_names(kept)} still {'holds its' if len(kept) == 1 else 'hold their'} earlier value: "
                  "a blank never replaces your work.)")
        self.saved, self.blanks = {}, []
        _running["source"] = ""


def define_blank(shell=None) -> bool:
    """Make ``____`` mean "a blank to fill in" in this notebook (done by ``radkit.setup()``)."""
    shell = shell or ipython_shell()
    if shell is None:
        return False
    shell.user_ns["____"] = ____
    events = getattr(shell, "events", None)
    if events is not None:
        old = getattr(shell, "_radkit_blank_hooks", None)
        if old is not None:  # setup() run twice: replace, never stack, the hooks
            events.unregister("pre_run_cell", old.before)
            events.unregister("post_run_cell", old.after)
        hooks = _KeepEarlierWork(shell)
        events.register("pre_run_cell", hooks.before)
        events.register("post_run_cell", hooks.after)
        shell._radkit_blank_hooks = hooks
    return True


def is_blank(value) -> bool:
    """True when ``value`` is the unfilled ``____`` (or contains one)."""
    if isinstance(value, _Blank):
        return True
    if isinstance(value, (list, tuple)):
        return any(is_blank(v) for v in value)
    if isinstance(value, dict):
        return any(is_blank(v) for v in value.values())
    return False


class Exercise:
    """One exercise: a check, a hint and a worked solution.

    ``check_fn`` receives the learner's values and returns ``None`` when they
    are right, or a sentence saying what is wrong (without giving the answer).
    ``solution`` is runnable code (the notebook's solution block). ``wrong``
    holds plausible wrong answers, each runnable code assigning the same names:
    the course's walk-through test puts each in place of the solution and
    expects the check to reject it. ``on_error`` receives an error the
    exercise cell raised before its check ran and returns a plain sentence
    about it, or None.
    """

    def __init__(self, name: str, check_fn: Callable[..., str | None], hint: str, solution: str,
                 wrong: tuple[str, ...] | list[str] = (),
                 on_error: Callable[[BaseException], str | None] | None = None):
        self.name = name
        self._check_fn = check_fn
        self._hint = hint
        self._solution = solution
        self.wrong = tuple(wrong)
        self._on_error = on_error
        self.passed = False  # set by check(): True once the answer was right
        self.last_error: BaseException | None = None  # what a check could not handle, for whoever maintains it

    def check(self, *values) -> None:
        """Check your answer and print whether it is right (also kept in ``.passed``)."""
        self.passed = False
        if any(is_blank(v) for v in values):
            variables = [v.variable for v in values if isinstance(v, _Blank) and v.variable]
            variables = variables or _BLANK_ASSIGNMENT.findall(_running["source"])
            problem, fix = not_done_message(self.name, variables)
            print(f"{problem} {fix}")
            return
        try:
            problem = self._check_fn(*values)
        except Exception as error:  # a wrong kind of answer must not crash the check, nor show Python's words
            self.last_error = error
            problem = self._kind_problem(values)
        if problem:
            print(f"{self.name}: not quite. {problem} Need a hint? Run {self.name}.hint()")
            return
        self.passed = True
        print(f"{self.name}: correct! Well done.")

    def _answers(self, values) -> list[tuple[str, object]]:
        """The learner's answers among the values given to check(): the names the solution assigns."""
        import ast

        names = _SOLUTION_NAMES.findall(self._solution)
        try:
            calls = [node for node in ast.walk(ast.parse(_running["source"])) if isinstance(node, ast.Call)
                     and isinstance(node.func, ast.Attribute) and node.func.attr == "check"
                     and isinstance(node.func.value, ast.Name) and node.func.value.id == self.name]
        except SyntaxError:
            calls = []
        if calls and len(calls[-1].args) == len(values):
            given = [arg.id if isinstance(arg, ast.Name) else None for arg in calls[-1].args]
            found = [(name, value) for name, value in zip(given, values) if name in names]
            if found:
                return found
        return list(zip(names, values))

    def _kind_problem(self, values) -> str:
        """One plain sentence when check() could not use an answer: which answer, and what kind it is."""
        import numpy as np

        for name, value in self._answers(values):
            if _thousands(value):
                return number_problem(value, name)
            odd = (value is None or isinstance(value, (str, list, tuple, set, frozenset, dict)) or _is_function(value)
                   or (isinstance(value, np.ndarray) and value.size != 1))
            if odd:
                return (f"For {name} you gave {_kind(value)}, which is not the kind of answer this exercise "
                        "asks for.")
        return "your answer is not the kind of value this exercise asks for."

    def explain_error(self, error: BaseException) -> None:
        """Say in plain words why the exercise cell stopped before its check ran (printed under the error)."""
        self.passed = False
        try:
            known = self._on_error(error) if self._on_error else None
        except Exception:  # noqa: BLE001 - an explanation must never raise in its turn
            known = None
        said = known or "The last line of the error above says what Python could not do."
        print(f"{self.name}: not quite. The cell stopped with an error before the check could run. {said} "
              f"Need a hint? Run {self.name}.hint()")

    @property
    def solution_code(self) -> str:
        """The worked solution as runnable code (what ``solution()`` prints; the walk-through test runs it)."""
        return self._solution

    def hint(self) -> None:
        """Print a hint."""
        print(f"Hint for {self.name}: {self._hint}")

    def solution(self) -> None:
        """Print one worked solution."""
        print(f"One solution for {self.name}:\n{self._solution}")

    def __repr__(self) -> str:
        return f"Exercise {self.name}: use {self.name}.check(...), {self.name}.hint(), {self.name}.solution()"


def expect(statement: str, holds) -> None:
    """Print whether a claim the lesson makes holds on this run: ``expect("class weights raise specificity", a > b)``.

    Notebooks put these in cells marked ``# NBVAL_CHECK_OUTPUT``: the stored
    (full-mode) output says "yes", so CI fails when fast mode or a code change
    no longer shows what the prose says. The learner sees the same line.
    """
    print(f"Does the lesson hold on this run? {statement}: {'yes' if bool(holds) else 'NO'}")
