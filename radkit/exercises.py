"""Exercises with instant feedback: ``q1.check()``, ``q1.hint()``, ``q1.solution()``.

Introduced in notebook 00_start_here. In the student notebooks each
exercise has a blank, written ``____`` (four underscores), for the learner to
replace. (Not three: IPython uses ``___`` for its own output history.) Using a
blank that is still empty gives a friendly message instead of a long error
from deep inside a library.

Each notebook's exercises live in ``radkit/checks/nbNN.py``.
"""

from __future__ import annotations

import re
from typing import Callable

from radkit.errors import RadkitError, ipython_shell


class ExerciseNotDone(RadkitError):
    """Raised when a blank ``____`` is used before it has been filled in."""


# The notebook cell being run (kept by a hook that radkit.setup() installs), so that a message about a
# blank can name the exercise and the variable, and know whether this very cell holds the blank.
_running = {"source": ""}
_CHECK_CALL = re.compile(r"\b(q\d+)\.check\(")
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
    expects the check to reject it.
    """

    def __init__(self, name: str, check_fn: Callable[..., str | None], hint: str, solution: str,
                 wrong: tuple[str, ...] | list[str] = ()):
        self.name = name
        self._check_fn = check_fn
        self._hint = hint
        self._solution = solution
        self.wrong = tuple(wrong)
        self.passed = False  # set by check(): True once the answer was right

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
        except Exception as error:  # a wrong type of answer should not crash the check
            problem = f"your answer could not be checked ({type(error).__name__}: {short(error)})."
        if problem:
            print(f"{self.name}: not quite. {problem} Need a hint? Run {self.name}.hint()")
            return
        self.passed = True
        print(f"{self.name}: correct! Well done.")

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


# ---------------------------------------------------------------- feedback that diagnoses (every checks module)

def short(value, limit: int = 60) -> str:
    """A value as a learner would write it: 0.913 (not np.float64(0.913)), never a whole array."""
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, np.ndarray):
        kind = "True/False values" if value.dtype == bool else "numbers"
        return value.item().__repr__() if value.size == 1 else f"an array of {value.size} {kind}"
    if isinstance(value, dict):
        keys = ", ".join(repr(k) for k in list(value)[:4])
        return f"a dict with keys {keys}{', ...' if len(value) > 4 else ''}"
    if isinstance(value, (list, tuple, set)):
        kind = {list: "a list", tuple: "a tuple", set: "a set"}[type(value)] if type(value) in (list, tuple, set) \
            else type(value).__name__
        text = repr(value)
        return text if len(text) <= limit else f"{kind} of {len(value)} items"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def number_problem(value, what: str = "your answer") -> str | None:
    """None when ``value`` is one plain number; otherwise what it is instead, and how to get a number."""
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return f"{what} is {bool(value)}, a yes/no value; a number was expected."
    if isinstance(value, dict):
        return (f"{what} is {short(value)}: a number was expected. Take one value out of it with "
                f"[\"key\"], for example {what}[{next(iter(value), 'key')!r}].")
    if isinstance(value, str):
        return f"{what} is text ({short(value)}): write the number without quotes."
    if value is None:
        return f"{what} is None: the cell did not give it a value (is there a `=`?)."
    array = np.asarray(value) if isinstance(value, (list, tuple, np.ndarray)) else None
    if array is not None and array.size != 1:
        if array.dtype == bool:
            return (f"{what} is {short(array)}, one per film: a single number was expected. "
                    "np.sum(...) counts the Trues; np.mean(...) gives their fraction.")
        return f"{what} is {short(value)}: a single number was expected."
    try:
        float(value)
    except (TypeError, ValueError):
        return f"{what} should be a number; it is {type(value).__name__}."
    return None


def _near(a: float, b: float, tolerance: float) -> bool:
    return abs(a - b) <= tolerance + 1e-9 * max(abs(a), abs(b))


def diagnose_number(value, expected: float, what: str = "your answer", tolerance: float = 1e-6,
                    mix_ups: dict | None = None, fraction: bool = False) -> str | None:
    """None when ``value`` is ``expected``; otherwise a sentence saying what kind of mistake it looks like.

    Recognises: not a number at all (a dict, a True/False array, text), a percent where a fraction
    was wanted, a ratio divided the wrong way round, 1 minus the answer (for fractions), and any
    value in ``mix_ups`` ({"the PPV": 0.91}), which a learner may have taken by mistake.
    """
    problem = number_problem(value, what)
    if problem:
        return problem
    import numpy as np

    given, expected = float(np.asarray(value, dtype=float).reshape(-1)[0]), float(expected)
    if _near(given, expected, tolerance):
        return None
    for name, other in (mix_ups or {}).items():
        if other is not None and _near(given, float(other), tolerance) and not _near(float(other), expected, tolerance):
            return f"{what} is {short(given)}, which is {name}, not {what}."
    if expected != 0 and _near(given, expected * 100, tolerance * 100):
        return f"{what} is {short(given)}: that looks like a percent. Give it as a fraction (0.25 for 25 %)."
    if expected != 0 and given != 0 and _near(given, 1 / expected, tolerance * max(1.0, abs(1 / expected) ** 2)):
        return f"{what} is {short(given)}: that looks upside down. Divide the other way round."
    if fraction and _near(given, 1 - expected, tolerance):
        return f"{what} is {short(given)}: that is 1 minus the answer, the opposite proportion."
    if fraction and not 0 <= given <= 1:
        return f"{what} is {short(given)}, but it is a proportion, so it lies between 0 and 1."
    return f"{what} is {short(given)}, which is not what we expected."


def diagnose_numbers(values: dict, expected: dict, tolerance: float = 1e-6, fraction: bool = False) -> str | None:
    """Several named numbers at once: recognises two values swapped, then checks each (``diagnose_number``)."""
    names = list(values)
    for problem in (number_problem(values[name], name) for name in names):
        if problem:
            return problem
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            swapped = (_near(float(values[a]), float(expected[b]), tolerance)
                       and _near(float(values[b]), float(expected[a]), tolerance)
                       and not _near(float(expected[a]), float(expected[b]), tolerance))
            if swapped:
                return f"`{a}` and `{b}` are swapped: each holds the other's value."
    for name in names:
        problem = diagnose_number(values[name], expected[name], name, tolerance, fraction=fraction)
        if problem:
            return problem
    return None


def set_problem(value, expected: set, what: str = "your answer") -> str | None:
    """None when ``value`` is the set ``expected``; recognises a list given for a set, missing or extra items."""
    if isinstance(value, (list, tuple)):
        if set(value) == set(expected):
            return (f"{what} is a {type(value).__name__} with the right items; the exercise asks for a set: "
                    "wrap it in set(...) (a set keeps each item once and has no order).")
        return f"{what} is a {type(value).__name__}: make sets with set(...), then combine them."
    if not isinstance(value, (set, frozenset)):
        return f"{what} should be a set (made with set(...)); it is {short(value)}."
    missing, extra = set(expected) - set(value), set(value) - set(expected)
    if missing and not extra:
        return f"{what} misses {len(missing)} of the items that belong in it."
    if extra and not missing:
        return f"{what} has {len(extra)} item(s) too many: keep only those found in both."
    if missing or extra:
        return f"{what} is not the right set ({len(value)} items given)."
    return None


def choice_problem(value, options: str, what: str = "your answer") -> str | None:
    """None when ``value`` is exactly one of the letters in ``options`` given as text ("C"); else why not."""
    if isinstance(value, (list, tuple, set)):
        return f"{what} is {short(value)}: give one letter as text in quotes, like \"A\", not in brackets."
    if not isinstance(value, str):
        return f"{what} should be one letter in quotes, like \"A\"; it is {short(value)}."
    letters = [c for c in value.upper() if c.isalpha()]
    if len(letters) != 1:
        return f"{what} is {short(value)}: give exactly one letter, like \"A\"."
    if letters[0] not in options:
        return f"{what} is {short(value)}, which is not one of the choices ({', '.join(options)})."
    return None


def close_to(value, expected, tolerance: float = 1e-6, what: str = "your answer") -> str | None:
    """Helper for check functions: None when ``value`` is within ``tolerance`` of ``expected``, else why not."""
    import numpy as np

    if np.ndim(expected) == 0:
        return diagnose_number(value, expected, what, tolerance)
    try:
        ok = np.allclose(np.asarray(value, dtype=float), np.asarray(expected, dtype=float), atol=tolerance)
    except (TypeError, ValueError):
        return f"{what} should be numbers; it is {short(value)}."
    return None if ok else f"{what} is not what we expected (you gave {short(value)})."


def expect(statement: str, holds) -> None:
    """Print whether a claim the lesson makes holds on this run: ``expect("class weights raise specificity", a > b)``.

    Notebooks put these in cells marked ``# NBVAL_CHECK_OUTPUT``: the stored
    (full-mode) output says "yes", so CI fails when fast mode or a code change
    no longer shows what the prose says. The learner sees the same line.
    """
    print(f"Does the lesson hold on this run? {statement}: {'yes' if bool(holds) else 'NO'}")
