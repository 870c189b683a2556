"""Blanks and self-checks."""

from __future__ import annotations

import numpy as np
import pytest

from radkit.errors import RadkitError, show_friendly_errors
from radkit.exercises import Exercise, ExerciseNotDone, ____, close_to, is_blank


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
    assert "should be a number" in capsys.readouterr().out


def test_is_blank_looks_inside_containers():
    assert is_blank([1, ____]) and is_blank({"a": ____}) and not is_blank([1, 2])


def test_friendly_errors_in_ipython(capsys):
    class FakeShell:
        def set_custom_exc(self, types, handler):
            self.types, self.handler = types, handler

    shell = FakeShell()
    assert show_friendly_errors(shell)
    assert shell.types == (RadkitError,)
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
