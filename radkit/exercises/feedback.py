"""Feedback that diagnoses: the sentences an exercise check says when an answer is not right (notebook 00 on).

Every message introduces the learner's value with "you gave", in plain numbers (0.53, never np.float64(0.53)),
and names a wrong kind of value (text, a list, a tuple, a dict, an array, a number split by a comma) before
any arithmetic is tried on it. The helpers a check in ``radkit/checks/nbNN.py`` calls:

- ``number_problem``, ``diagnose_number``, ``diagnose_numbers``: one number, or several named numbers;
- ``bool_problem``, ``diagnose_bool``: a True/False answer, which must be a real True or False;
- ``diagnose_value``: any value (a number, text, a list or array, a dict), for an intermediate step the
  blank asks for, not only the final word;
- ``diagnose_on_data``: an answer that depends on which data were used, worked out on the data;
- ``set_problem``, ``choice_problem``, ``close_to``; ``cell_code``: the learner's code, for the rare case
  where the value alone cannot tell two answers apart on this run; ``short``: a value as a learner writes it.
"""

from __future__ import annotations

import re
from typing import Callable

# The notebook cell being run (kept by the hook that radkit.setup() installs, see radkit.exercises).
_running = {"source": ""}

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
    """None when ``value`` is ``expected``; otherwise a sentence naming the kind of mistake it looks like (notebook 03).

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
