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
                 wrong: tuple[str, ...] | list[str] = (), on_error: Callable[[BaseException], str | None] | None = None):
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


# ---------------------------------------------------------------- feedback that diagnoses (every checks module)
#
# Every message introduces the learner's value with "you gave", in plain numbers (0.53, never np.float64(0.53)),
# and names a wrong kind of value (text, a list, a tuple, a dict, an array, a number split by a comma) before
# any arithmetic is tried on it. The helpers a check calls:
#   number_problem, diagnose_number, diagnose_numbers  one number (or several named numbers)
#   bool_problem, diagnose_bool                         a True/False answer, which must be a real True or False
#   diagnose_value                                      any value: a number, text, a list or array, a dict
#                                                       (for an intermediate step the blank asks for)
#   diagnose_on_data                                    an answer that depends on which data were used
#   set_problem, choice_problem, close_to, cell_code    sets, letters, "close enough", the learner's code

def short(value, limit: int = 60) -> str:
    """A value as a learner would write it: 0.913 (not np.float64(0.913)), never a whole array (notebook 00)."""
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, np.ndarray):
        if value.size == 1:
            return short(value.reshape(-1)[0].item(), limit)
        kind = "True/False values" if value.dtype == bool else (
            "numbers" if np.issubdtype(value.dtype, np.number) else "values")
        return f"an array of {value.size} {kind}"
    if isinstance(value, dict):
        text = "{" + ", ".join(f"{short(k)}: {short(v)}" for k, v in value.items()) + "}"
        if len(text) <= limit:
            return text
        keys = ", ".join(short(k) for k in list(value)[:4])
        return f"a dict with keys {keys}{', ...' if len(value) > 4 else ''}"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [short(v, limit) for v in list(value)[:limit]]
        ends = "[]" if isinstance(value, list) else "()" if isinstance(value, tuple) else "{}"
        text = ends[0] + ", ".join(items) + ("," if isinstance(value, tuple) and len(value) == 1 else "") + ends[1]
        if len(text) <= limit:
            return text
        kind = "a list" if isinstance(value, list) else "a tuple" if isinstance(value, tuple) else "a set"
        return f"{kind} of {len(value)} items"
    if isinstance(value, str):
        text = repr(str(value))
    elif _is_function(value):
        return f"the function {getattr(value, '__name__', '')}".rstrip()
    else:
        text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _is_function(value) -> bool:
    import inspect

    return inspect.isroutine(value)


def _kind(value) -> str:
    """What a value is, in words, followed by the value itself: "text, 'AP'", "a list, [1, 2]"."""
    import numpy as np

    if value is None:
        return "None (nothing)"
    if isinstance(value, str):
        return f"text, {short(value)}"
    if isinstance(value, list):
        return f"a list, {short(value)}"
    if isinstance(value, tuple):
        return f"several values separated by commas (a tuple), {short(value)}"
    if isinstance(value, (set, frozenset)):
        return f"a set, {short(value)}"
    if isinstance(value, dict):
        return f"a dict, {short(value)}"
    if isinstance(value, np.ndarray) or _is_function(value):
        return short(value)
    if isinstance(value, (bool, np.bool_)):
        return f"a True/False value, {short(value)}"
    return short(value)


def _thousands(value) -> str | None:
    """"21,000" when ``value`` is the tuple Python makes of a number written with a thousands comma, (21, 0)."""
    import numpy as np

    if not isinstance(value, tuple) or len(value) < 2:
        return None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in value):
        return None
    first, rest = int(value[0]), [int(v) for v in value[1:]]
    # Python refuses 21,050 (a leading zero), so the groups after the first are 000 or 100-999.
    if not 1 <= first <= 999 or not all(v == 0 or 100 <= v <= 999 for v in rest):
        return None
    return ",".join([str(first)] + [f"{v:03d}" for v in rest])


def _gave(what: str, value) -> str:
    return f"For {what} you gave {short(value)}"


def number_problem(value, what: str = "your answer") -> str | None:
    """None when ``value`` is one plain number; otherwise one plain sentence naming what it is instead (notebook 00).

    Recognises True/False, None, text, a number written with a thousands comma (``21,000`` is the tuple
    (21, 0) in Python), a dict, a list, a tuple, an array, a function without its brackets, and nan.
    """
    import math

    import numpy as np

    gave = f"For {what} you gave"
    if isinstance(value, (bool, np.bool_)):
        return f"{gave} {bool(value)}, a yes/no value; a number was expected."
    if value is None:
        return (f"{gave} None, that is nothing: the line did not produce a value (is there a `=` with something "
                "after it? print(...) shows a value but gives None).")
    if isinstance(value, str):
        try:
            float(value.replace(",", "").replace("%", ""))
            return f"{gave} text, {short(value)}: write the number without quotes."
        except ValueError:
            return f"{gave} text, {short(value)}; a number was expected."
    comma = _thousands(value)
    if comma:
        return (f"{gave} {short(value)}: Python read the comma in {comma} as separating {len(value)} numbers. "
                f"Write {comma.replace(',', '')} without the comma (or {comma.replace(',', '_')}).")
    if isinstance(value, dict):
        key = short(next(iter(value), "key"))
        return (f"{gave} a dict, {short(value)}; a number was expected. Take one value out of it by its key in "
                f"square brackets, for example [{key}].")
    if isinstance(value, (list, tuple, set, frozenset)):
        if len(value) == 1 and not isinstance(value, (set, frozenset)):
            return f"{gave} {_kind(value)}, which holds one number: take it out with [0]."
        return f"{gave} {_kind(value)}; a single number was expected."
    if isinstance(value, np.ndarray):
        if value.size > 1 and value.dtype == bool:
            return (f"{gave} {short(value)}, one per film; a single number was expected. "
                    "np.sum(...) counts the Trues; np.mean(...) gives their fraction.")
        if value.size != 1:
            return f"{gave} {short(value)}; a single number was expected."
        value = value.reshape(-1)[0].item()
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return number_problem(value, what)
    if _is_function(value):
        name = getattr(value, "__name__", "it")
        return f"{gave} the function {name} itself; call it with brackets, {name}(...), to get its value."
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"{gave} {short(value)}, which is not a number; a number was expected."
    if math.isnan(number):
        return (f"{gave} nan ('not a number'): something was divided by zero, or an empty selection was "
                "averaged.")
    return None


def _as_float(value) -> float:
    import numpy as np

    return float(np.asarray(value, dtype=float).reshape(-1)[0])


def _near(a: float, b: float, tolerance: float) -> bool:
    return abs(a - b) <= tolerance + 1e-9 * max(abs(a), abs(b))


_PERCENT_CODE = re.compile(r"\*\s*100(\.0*)?\b|\b100(\.0*)?\s*\*")


def cell_code() -> str:
    """The code of the notebook cell being run (the learner's answer), comments left out; "" outside a notebook.

    A check may read it when the value alone cannot tell two answers apart on this run.
    """
    return "\n".join(line.split("#", 1)[0] for line in _running["source"].splitlines())


def diagnose_number(value, expected: float, what: str = "your answer", tolerance: float = 1e-6,
                    mix_ups: dict | None = None, fraction: bool = False) -> str | None:
    """None when ``value`` is ``expected``; otherwise a sentence saying what kind of mistake it looks like (notebook 03).

    Recognises: not a number at all (``number_problem``), a percent where a fraction was wanted (also when
    the answer is 0 on this run, where 0 % and 0 agree: the learner's code is read for a ``* 100``), a ratio
    divided the wrong way round, 1 minus the answer (for fractions), and any value in ``mix_ups``
    ({"the PPV": 0.91}), which a learner may have taken by mistake.
    """
    problem = number_problem(value, what)
    if problem:
        return problem
    given, expected = _as_float(value), float(expected)
    gave = _gave(what, given)
    if _near(given, expected, tolerance):
        if fraction and _near(expected, 0.0, tolerance) and _PERCENT_CODE.search(cell_code()):
            return (f"{gave}, which matches only because the answer is 0 on this run: your code multiplies by "
                    "100, which makes a percent. Give it as a fraction between 0 and 1 (0.25 for 25 %).")
        return None
    for name, other in (mix_ups or {}).items():
        if other is not None and _near(given, float(other), tolerance) and not _near(float(other), expected, tolerance):
            return f"{gave}, which is {name}."
    if expected != 0 and _near(given, expected * 100, tolerance * 100):
        return f"{gave}: that looks like a percent. Give it as a fraction (0.25 for 25 %)."
    if expected != 0 and given != 0 and _near(given, 1 / expected, tolerance * max(1.0, abs(1 / expected) ** 2)):
        return f"{gave}: that looks upside down. Divide the other way round."
    if fraction and _near(given, 1 - expected, tolerance):
        return f"{gave}: that is 1 minus the answer, the opposite proportion."
    if fraction and not 0 <= given <= 1:
        return f"{gave}, but it is a proportion, so it lies between 0 and 1."
    return f"{gave}, which is not the right value yet."


def diagnose_numbers(values: dict, expected: dict, tolerance: float = 1e-6, fraction: bool = False) -> str | None:
    """Several named numbers at once: recognises two values swapped, then checks each (``diagnose_number``)."""
    names = list(values)
    for problem in (number_problem(values[name], name) for name in names):
        if problem:
            return problem
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            va, vb = _as_float(values[a]), _as_float(values[b])
            swapped = (_near(va, float(expected[b]), tolerance) and _near(vb, float(expected[a]), tolerance)
                       and not _near(float(expected[a]), float(expected[b]), tolerance))
            if swapped:
                return (f"For {a} you gave {short(va)} and for {b} {short(vb)}: they are swapped, "
                        "each holds the other's value.")
    for name in names:
        problem = diagnose_number(values[name], expected[name], name, tolerance, fraction=fraction)
        if problem:
            return problem
    return None


def bool_problem(value, what: str = "your answer") -> str | None:
    """None when ``value`` is a real True or False; otherwise one plain sentence naming what it is (notebook 07).

    Text ("False", "no"), several values (``low, high``), numbers and arrays are refused: a True/False
    question is answered with True or False, best with a comparison Python works out, ``low <= x <= high``.
    """
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return None
    gave = f"For {what} you gave"
    if isinstance(value, str):
        return (f"{gave} text, {short(value)}: a yes/no answer is True or False without quotes, best written as a "
                "comparison that Python works out, such as x <= 0.5.")
    if isinstance(value, np.ndarray) and value.dtype == bool and value.size > 1:
        return (f"{gave} {short(value)}, one per item; a single True or False was expected: .all() says whether "
                "all are True, .any() whether one is.")
    if isinstance(value, (tuple, list, set, dict, np.ndarray)):
        return (f"{gave} {_kind(value)}; a single True or False was expected. To ask whether x lies between "
                "low and high, write low <= x <= high.")
    if value is None:
        return number_problem(None, what)
    if isinstance(value, (int, float, np.number)):
        return (f"{gave} the number {short(value)}: write True or False, or a comparison such as x <= 0.5, "
                "which gives one.")
    return f"{gave} {_kind(value)}; True or False was expected."


def diagnose_bool(value, expected: bool, what: str = "your answer") -> str | None:
    """None when ``value`` is the real bool ``expected``; otherwise why not (``bool_problem`` first)."""
    problem = bool_problem(value, what)
    if problem:
        return problem
    if bool(value) != bool(expected):
        return (f"{_gave(what, value)}, which is not what the data say: work it out with a comparison "
                "rather than by eye, and check both ends of a range.")
    return None


def _same(a, b, tolerance: float) -> bool:
    """True when two answers agree: numbers within ``tolerance``, text, lists and arrays, dicts key by key."""
    import numpy as np

    try:
        if isinstance(b, dict) or isinstance(a, dict):
            return (isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b)
                    and all(_same(a[k], b[k], tolerance) for k in b))
        if isinstance(a, str) or isinstance(b, str):
            return isinstance(a, str) and isinstance(b, str) and a == b
        if isinstance(a, (bool, np.bool_)) != isinstance(b, (bool, np.bool_)):
            return False
        x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        return x.shape == y.shape and bool(np.allclose(x, y, atol=tolerance, rtol=1e-9))
    except (TypeError, ValueError):
        return False


def diagnose_value(value, expected, what: str = "your answer", tolerance: float = 1e-6,
                   mix_ups: dict | None = None) -> str | None:
    """None when ``value`` equals ``expected``, whatever its kind; otherwise one plain sentence (notebook 10).

    ``expected`` may be a number, True/False, text, a list or array, or a dict of these, so a check can
    judge an intermediate step the blank asks for (a dict of interval widths per view), not only the
    final word. ``mix_ups`` names values a learner may have taken by mistake ({"the number of films": ...}).
    """
    import numpy as np

    if isinstance(expected, (bool, np.bool_)):
        return diagnose_bool(value, expected, what)
    if isinstance(expected, (int, float, np.number)):
        return diagnose_number(value, expected, what, tolerance, mix_ups=mix_ups)
    if _same(value, expected, tolerance):
        return None
    gave = _gave(what, value)
    for name, other in (mix_ups or {}).items():
        if _same(value, other, tolerance) and not _same(other, expected, tolerance):
            return f"{gave}, which is {name}."
    if isinstance(expected, str):
        if not isinstance(value, str):
            return f"For {what} you gave {_kind(value)}; text in quotes was expected."
        if value.strip().lower() == expected.lower():
            return f"{gave}: mind the spaces and capitals, Python compares text exactly."
        return f"{gave}, which is not the right one yet."
    if isinstance(expected, dict):
        if not isinstance(value, dict):
            return (f"For {what} you gave {_kind(value)}; a dict was expected, with one entry for each of "
                    f"{', '.join(short(k) for k in expected)}.")
        missing = [short(k) for k in expected if k not in value]
        extra = [short(k) for k in value if k not in expected]
        if missing:
            return f"{gave}: it has no entry for {', '.join(missing)}."
        if extra:
            return f"{gave}: it has entries that do not belong in it: {', '.join(extra)}."
        for key in expected:
            problem = diagnose_value(value[key], expected[key], f"{what}[{short(key)}]", tolerance)
            if problem:
                return problem
        return None
    want = np.asarray(expected)
    if value is None or isinstance(value, (str, dict, bool, np.bool_)):
        return f"For {what} you gave {_kind(value)}; {want.size} values were expected (a list or an array)."
    if not np.issubdtype(want.dtype, np.number):
        return f"{gave}, which is not the right list yet."
    try:
        got = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return f"For {what} you gave {_kind(value)}; numbers were expected."
    if got.size != want.size:
        return f"{gave}: that is {got.size} value{'s' if got.size != 1 else ''}, but {want.size} were expected."
    if got.shape != want.shape:
        return f"{gave}: the right number of values, but shaped {got.shape} instead of {want.shape}."
    if not np.allclose(want, 0) and np.allclose(got, want * 100, atol=tolerance * 100, rtol=1e-9):
        return f"{gave}: those look like percents. Give them as fractions (0.25 for 25 %)."
    return f"{gave}, which is not right yet."


def diagnose_on_data(value, compute: Callable, right: tuple, others: dict | None = None,
                     what: str = "your answer", tolerance: float = 1e-6, **options) -> str | None:
    """Check an answer that depends on which data were used, by working it out on the data (notebook 10).

    ``compute(*right)`` is the expected answer; ``others`` names data a learner may have used instead,
    ``{"all the photographed films": (home_y, photo_p)}``: an answer equal to ``compute`` on those is told
    which data it came from. ``options`` go to ``diagnose_number`` (``mix_ups``, ``fraction``) when the
    answer is a number, to ``diagnose_value`` otherwise.
    """
    import numpy as np

    expected = compute(*right)
    if isinstance(expected, (int, float, np.number)) and not isinstance(expected, (bool, np.bool_)):
        problem = diagnose_number(value, expected, what, tolerance, **options)
        if problem is None or number_problem(value, what):
            return problem
    else:
        problem = diagnose_value(value, expected, what, tolerance, **options)
        if problem is None:
            return None
    for name, args in (others or {}).items():
        other = compute(*args)
        if _same(value, other, tolerance) and not _same(other, expected, tolerance):
            return (f"{_gave(what, value)}, which is what it comes to on {name}: work it out on the data "
                    "the exercise asks for.")
    return problem


def set_problem(value, expected: set, what: str = "your answer") -> str | None:
    """None when ``value`` is the set ``expected``; recognises a list given for a set, missing or extra items."""
    if isinstance(value, (list, tuple)):
        if set(map(_hashable, value)) == set(expected):
            return (f"For {what} you gave {_kind(value)} with the right items; the exercise asks for a set: "
                    "wrap it in set(...) (a set keeps each item once and has no order).")
        return f"For {what} you gave {_kind(value)}: make sets with set(...), then combine them."
    if not isinstance(value, (set, frozenset)):
        return f"For {what} you gave {_kind(value)}; a set (made with set(...)) was expected."
    missing, extra = set(expected) - set(value), set(value) - set(expected)
    if missing and not extra:
        return f"For {what} you gave a set that misses {len(missing)} of the items that belong in it."
    if extra and not missing:
        return f"For {what} you gave a set with {len(extra)} item(s) too many: keep only those found in both."
    if missing or extra:
        return f"For {what} you gave a set of {len(value)} items, which is not the right set."
    return None


def _hashable(item):
    try:
        hash(item)
        return item
    except TypeError:
        return repr(item)


def choice_problem(value, options: str, what: str = "your answer") -> str | None:
    """None when ``value`` is exactly one of the letters in ``options`` given as text ("C"); else why not."""
    if isinstance(value, (list, tuple, set)):
        return f"For {what} you gave {short(value)}: give one letter as text in quotes, like \"A\", not in brackets."
    if not isinstance(value, str):
        return f"For {what} you gave {_kind(value)}; one letter in quotes, like \"A\", was expected."
    letters = [c for c in value.upper() if c.isalpha()]
    if len(letters) != 1:
        return f"For {what} you gave {short(value)}: give exactly one letter, like \"A\"."
    if letters[0] not in options:
        return f"For {what} you gave {short(value)}, which is not one of the choices ({', '.join(options)})."
    return None


def close_to(value, expected, tolerance: float = 1e-6, what: str = "your answer") -> str | None:
    """Helper for check functions: None when ``value`` is within ``tolerance`` of ``expected``, else why not."""
    import numpy as np

    if np.ndim(expected) == 0:
        return diagnose_number(value, expected, what, tolerance)
    return diagnose_value(value, expected, what, tolerance)


def expect(statement: str, holds) -> None:
    """Print whether a claim the lesson makes holds on this run: ``expect("class weights raise specificity", a > b)``.

    Notebooks put these in cells marked ``# NBVAL_CHECK_OUTPUT``: the stored
    (full-mode) output says "yes", so CI fails when fast mode or a code change
    no longer shows what the prose says. The learner sees the same line.
    """
    print(f"Does the lesson hold on this run? {statement}: {'yes' if bool(holds) else 'NO'}")
