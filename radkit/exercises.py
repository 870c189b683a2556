"""Exercises with instant feedback: ``q1.check()``, ``q1.hint()``, ``q1.solution()``.

Introduced in notebook 00_start_here. In the student notebooks each
exercise has a blank, written ``____`` (four underscores), for the learner to
replace. (Not three: IPython uses ``___`` for its own output history.) Using a
blank that is still empty gives a friendly message instead of a long error
from deep inside a library.

Each notebook's exercises live in ``radkit/checks/nbNN.py``.
"""

from __future__ import annotations

from typing import Callable

from radkit.errors import RadkitError, ipython_shell


class ExerciseNotDone(RadkitError):
    """Raised when a blank ``____`` is used before it has been filled in."""


class _Blank:
    """The ``____`` placeholder. Any use of it says the exercise is not done yet."""

    _MESSAGE = (
        "This cell still has a blank (____) in it.",
        "Replace each ____ with your own code, then run the cell again. "
        "Stuck? Run the hint cell below the exercise (for example q1.hint()).",
    )

    def _refuse(self, *args, **kwargs):
        raise ExerciseNotDone(*self._MESSAGE)

    def __repr__(self) -> str:
        return "____ (a blank for you to fill in)"

    # Every common way of using a value refuses politely.
    __call__ = __getattr__ = __getitem__ = __iter__ = __len__ = _refuse
    __bool__ = __int__ = __float__ = __index__ = __array__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __pow__ = __rpow__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = __neg__ = __abs__ = _refuse
    __matmul__ = __rmatmul__ = __mod__ = __rmod__ = __format__ = _refuse  # __format__: f"{answer:.2f}"

    def __getstate__(self):  # keep pickling/copying from tripping over __getattr__
        return {}


____ = _Blank()


def define_blank(shell=None) -> bool:
    """Make ``____`` mean "a blank to fill in" in this notebook (done by ``radkit.setup()``)."""
    shell = shell or ipython_shell()
    if shell is None:
        return False
    shell.user_ns["____"] = ____
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
            print(f"{self.name}: not done yet. Replace the ____ in the cell above with your code. "
                  f"Need a hint? Run {self.name}.hint()")
            return
        try:
            problem = self._check_fn(*values)
        except Exception as error:  # a wrong type of answer should not crash the check
            problem = f"your answer could not be checked ({type(error).__name__}: {error})."
        if problem:
            print(f"{self.name}: not quite. {problem} Need a hint? Run {self.name}.hint()")
            return
        self.passed = True
        print(f"{self.name}: correct! Well done.")

    def hint(self) -> None:
        """Print a hint."""
        print(f"Hint for {self.name}: {self._hint}")

    def solution(self) -> None:
        """Print one worked solution."""
        print(f"One solution for {self.name}:\n{self._solution}")

    def __repr__(self) -> str:
        return f"Exercise {self.name}: use {self.name}.check(...), {self.name}.hint(), {self.name}.solution()"


def close_to(value, expected, tolerance: float = 1e-6, what: str = "your answer") -> str | None:
    """Helper for check functions: None when ``value`` is within ``tolerance`` of ``expected``."""
    import numpy as np

    try:
        ok = np.allclose(np.asarray(value, dtype=float), np.asarray(expected, dtype=float), atol=tolerance)
    except (TypeError, ValueError):
        return f"{what} should be a number (or numbers); you gave {type(value).__name__}."
    return None if ok else f"{what} is not what we expected (you gave {value!r})."


def expect(statement: str, holds) -> None:
    """Print whether a claim the lesson makes holds on this run: ``expect("class weights raise specificity", a > b)``.

    Notebooks put these in cells marked ``# NBVAL_CHECK_OUTPUT``: the stored
    (full-mode) output says "yes", so CI fails when fast mode or a code change
    no longer shows what the prose says. The learner sees the same line.
    """
    print(f"Does the lesson hold on this run? {statement}: {'yes' if bool(holds) else 'NO'}")
