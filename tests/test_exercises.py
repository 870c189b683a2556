"""Blanks and self-checks."""

from __future__ import annotations

import numpy as np
import pytest

from radkit.errors import RadkitError, show_friendly_errors
from radkit.exercises import (Exercise, ExerciseNotDone, ____, choice_problem, close_to, diagnose_number,
                              diagnose_numbers, is_blank, set_problem, short)


@pytest.mark.parametrize("use", [
    lambda: ____ + 1, lambda: 2 * ____, lambda: ____(), lambda: ____.shape, lambda: ____[0],
    lambda: bool(____), lambda: float(____), lambda: f"{____:.2f}", lambda: f"{____}", lambda: np.asarray(____) + 1, lambda: len(____),
])
def test_using_a_blank_gives_a_friendly_message(use):
    with pytest.raises(ExerciseNotDone, match=r"still has a blank \(____\)"):
        use()


def test_exercise_not_done_is_a_radkit_error():
    assert issubclass(ExerciseNotDone, RadkitError)


def square_check(answer):
    return close_to(answer, 16, what="the square of 4")


def test_check_hint_solution(capsys):
    q = Exercise("q1", square_check, hint="multiply 4 by itself", solution="answer = 4 * 4")
    q.check(____)
    assert not q.passed
    assert "not done yet" in capsys.readouterr().out
    q.check(15)
    assert not q.passed
    assert "not quite" in capsys.readouterr().out
    assert q.check(16) is None, "returns nothing, so a notebook does not echo True after the check"
    assert q.passed
    assert "correct" in capsys.readouterr().out
    q.hint()
    assert "multiply" in capsys.readouterr().out
    q.solution()
    assert "4 * 4" in capsys.readouterr().out


def test_a_wrong_type_of_answer_does_not_crash_the_check(capsys):
    q = Exercise("q2", square_check, hint="", solution="")
    q.check("sixteen")
    assert not q.passed
    assert "write the number without quotes" in capsys.readouterr().out


def test_is_blank_looks_inside_containers():
    assert is_blank([1, ____]) and is_blank({"a": ____}) and not is_blank([1, 2])


def test_friendly_errors_in_ipython(capsys):
    class FakeShell:
        def set_custom_exc(self, types, handler):
            self.types, self.handler = types, handler

    shell = FakeShell()
    assert show_friendly_errors(shell)
    assert RadkitError in shell.types or Exception in shell.types  # all errors pass through, RadkitErrors short
    shell.handler(shell, RadkitError, RadkitError("The file is missing.", "Download it."), None)
    out = capsys.readouterr().out
    assert "The file is missing." in out and "What to do: Download it." in out


def test_setup_defines_the_blank_in_the_notebook():
    from radkit.exercises import define_blank

    class FakeShell:
        user_ns = {"___": ""}  # IPython's own output history, which must not be our blank

    shell = FakeShell()
    assert define_blank(shell)
    assert is_blank(shell.user_ns["____"])


# Catches feedback that echoes np.float64(...) or a whole array, which a clinician cannot read (issue 9 §3).
def test_short_never_echoes_numpy_reprs_or_arrays():
    assert short(np.float64(0.91234)) == "0.9123"
    assert short(np.int64(7)) == "7"
    assert short(np.arange(624)) == "an array of 624 numbers"
    assert short(np.arange(5) > 2) == "an array of 5 True/False values"
    assert "np." not in short(np.float32(0.5)) and "array(" not in short(np.array([0.5]))


# Catches each usual mistake getting only "not what we expected" instead of a diagnosis (issue 9 §3).
@pytest.mark.parametrize("given, words", [
    (91.0, "percent"),                       # 91 instead of 0.91
    (1 / 0.91, "upside down"),               # the ratio inverted
    (0.09, "1 minus"),                       # the complement
    ({"ppv": 0.91, "npv": 0.5}, "Take one value out"),
    (np.array([True, False, True]), "np.sum"),
    ("0.91", "without quotes"),
    (np.arange(10) / 10, "single number"),
    (0.5, "which is the NPV"),
])
def test_diagnose_number_recognises_the_usual_mistakes(given, words):
    problem = diagnose_number(given, 0.91, "the PPV", 1e-6, mix_ups={"the NPV": 0.5}, fraction=True)
    assert problem and words in problem and "np.float64" not in problem
    assert diagnose_number(np.float64(0.91), 0.91, "the PPV", fraction=True) is None


# Catches swapped answers being reported as merely "wrong", and a right pair being refused.
def test_diagnose_numbers_recognises_swapped_values():
    expected = {"sensitivity": 0.9, "specificity": 0.6}
    assert "swapped" in diagnose_numbers({"sensitivity": 0.6, "specificity": 0.9}, expected)
    assert diagnose_numbers({"sensitivity": np.float64(0.9), "specificity": 0.6}, expected) is None
    assert "percent" in diagnose_numbers({"sensitivity": 90, "specificity": 0.6}, expected)


# Catches a list accepted where the lesson asks for a set, and vague feedback for a wrong set.
def test_set_problem():
    assert "set(...)" in set_problem(["P02", "P05"], {"P02", "P05"})
    assert "misses 1" in set_problem({"P02"}, {"P02", "P05"})
    assert "too many" in set_problem({"P02", "P05", "P01"}, {"P02", "P05"})
    assert set_problem({"P02", "P05"}, {"P02", "P05"}) is None


# Catches a correct letter in the wrong shape (["C"], "C, D") being judged as a letter (issue 9 §3, 02 q3).
def test_choice_problem():
    assert "not in brackets" in choice_problem(["C"], "ABCD")
    assert "exactly one letter" in choice_problem("C, D", "ABCD")
    assert "not one of the choices" in choice_problem("E", "ABCD")
    assert choice_problem(" c ", "ABCD") is None


@pytest.fixture
def shell():
    """A real IPython shell with radkit's blank, its hooks and its friendly errors, as radkit.setup() makes it."""
    from IPython.core.interactiveshell import InteractiveShell

    from radkit.exercises import define_blank

    ip = InteractiveShell.instance()
    show_friendly_errors(ip)
    define_blank(ip)
    ip.user_ns["q4"] = Exercise("q4", lambda ci: None, hint="", solution="spec_ci = 1")
    yield ip
    for name in ("model", "spec_ci", "q4"):
        ip.user_ns.pop(name, None)


# Catches issue 9 §4: running an exercise cell with its blank replaced the trained model, after which every
# later cell failed; and the message did not name the exercise or the variable.
def test_running_a_blank_keeps_earlier_work(shell, capsys):
    shell.run_cell("model = 'the trained model'")
    shell.run_cell("model = ____  # YOUR CODE HERE\nq4.check(model)")
    out = capsys.readouterr().out
    assert "q4: not done yet. `model` is still blank" in out and "earlier value" in out
    assert shell.user_ns["model"] == "the trained model"
    shell.run_cell("spec_ci = ____  # YOUR CODE HERE\nprint(spec_ci['low'])\nq4.check(spec_ci)")
    out = capsys.readouterr().out
    assert "q4: not done yet. `spec_ci` is still blank" in out and "Traceback" not in out


# Catches a cell without any blank claiming "This cell still has a blank" (issue 9 §4: 04 [22], 05 [23]).
def test_later_cell_says_which_exercise_is_missing(shell, capsys):
    shell.run_cell("spec_ci = ____  # YOUR CODE HERE\nq4.check(spec_ci)")
    capsys.readouterr()
    shell.run_cell("print(spec_ci['low'])")
    out = capsys.readouterr().out
    assert "`spec_ci` is not filled in yet" in out and "Exercise q4" in out and "has no blank" in out
    assert "still has a blank" not in out
    shell.run_cell("spec_ci = 0.5")
    assert shell.user_ns["spec_ci"] == 0.5
