"""Blanks and self-checks."""

from __future__ import annotations

import numpy as np
import pytest

from radkit.errors import RadkitError, show_friendly_errors
from radkit.exercises import (Exercise, ExerciseNotDone, ____, bool_problem, choice_problem, close_to, diagnose_bool,
                              diagnose_number, diagnose_numbers, diagnose_on_data, diagnose_value, is_blank,
                              number_problem, set_problem, short)


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
    q.check("16")
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
    assert problem and words in problem and "np.float64" not in problem and "For the PPV you gave" in problem
    assert diagnose_number(np.float64(0.91), 0.91, "the PPV", fraction=True) is None


# Catches swapped answers being reported as merely "wrong", and a right pair being refused.
def test_diagnose_numbers_recognises_swapped_values():
    expected = {"sensitivity": 0.9, "specificity": 0.6}
    assert "swapped" in diagnose_numbers({"sensitivity": 0.6, "specificity": 0.9}, expected)
    assert "you gave 0.6" in diagnose_numbers({"sensitivity": 0.6, "specificity": 0.9}, expected)
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


# ---------------------------------------------------------- issue 29 §1-§2: checks that reject, words that read

# Catches Python's own words reaching a clinician: a check that does arithmetic on an answer of the wrong kind
# (np.isclose on text or a list, as 10 q1 does before its number check) printed "could not be checked
# (ValueError: The truth value of an array...)", "UFuncTypeError" or "unhashable type: 'list'".
def _arithmetic_first(answer):
    if np.isclose(answer, -0.25):
        return "the sign is the wrong way round."
    return close_to(answer, 0.25, 1e-9, "auc_drop")


@pytest.mark.parametrize("given, words", [
    ("0.25", "you gave text, '0.25'"),
    ([0.25, 0.5], "you gave a list, [0.25, 0.5]"),
    ((0.25, 0.5), "a tuple"),
    ({"auc": 0.25}, "you gave a dict"),
    (np.arange(5) / 4, "you gave an array of 5 numbers"),
    (None, "you gave None"),
])
def test_a_wrong_kind_of_answer_is_named_in_plain_words(capsys, given, words):
    q = Exercise("q1", _arithmetic_first, hint="", solution="auc_drop = 0.25")
    q.check(given)
    out = capsys.readouterr().out
    assert not q.passed and "q1: not quite." in out and words in out and "auc_drop" in out
    for python_word in ("Error", "truth value", "unhashable", "np.float64", "could not be checked", "array("):
        assert python_word not in out
    q.check(np.float64(0.25))
    assert q.passed


# Catches Python's thousands comma being diagnosed as "a single number was expected": 21,000 is the tuple (21, 0).
def test_a_thousands_comma_is_recognised():
    problem = diagnose_number((21, 0), 21000, "n_pixels")
    assert "21,000" in problem and "Write 21000 without the comma" in problem and "you gave (21, 0)" in problem
    assert "1,250,000" in diagnose_number((1, 250, 0), 1250000, "n")
    assert "read the comma" not in diagnose_number((0.2, 0.4), 0.3, "share"), "two decimals are no thousands comma"
    assert "read the comma" not in diagnose_number((3, 5), 3005, "n"), "Python refuses 3,005: (3, 5) is no thousands"
    q = Exercise("q1", lambda n: (n - 21000) and "wrong", hint="", solution="n = 21000")
    q.check((21, 0))  # a check doing arithmetic first still names the comma
    assert "21,000" in str(q._kind_problem(((21, 0),)))


# Catches the learner's value read as the answer ("the share ... is 0.078, which is not what we expected") and a
# descriptive name glued to a key ("for example the number of films['both']").
@pytest.mark.parametrize("given", [0.078, {"both": 3, "only_second": 5}, "abc", [1, 2], True, np.arange(4) > 1])
def test_the_given_value_is_always_introduced_as_you_gave(given):
    problem = diagnose_number(given, 0.5, "the share of films with an effusion", fraction=True)
    assert "For the share of films with an effusion you gave" in problem
    assert "not what we expected" not in problem and "effusion[" not in problem


# Catches a True/False question passed by any truthy value: "no", "False", (low, high), 1 (issue 29 §1, 07 q3).
@pytest.mark.parametrize("given, words", [
    ("no", "without quotes"), ("False", "without quotes"), ((0.01, 0.1), "low <= x <= high"),
    (1, "the number 1"), (np.array([True, False]), ".all()"), (None, "None"),
])
def test_a_true_false_answer_must_be_a_real_bool(given, words):
    problem = diagnose_bool(given, True, "in_range")
    assert problem and words in problem and "For in_range you gave" in problem
    assert bool_problem(True) is None and bool_problem(np.bool_(False)) is None
    assert diagnose_bool(np.float64(0.03) <= 0.1, True, "in_range") is None
    assert "not what the data say" in diagnose_bool(False, True, "in_range")


# Catches an answer worked out on the wrong films passing because only its kind was checked, and the learner not
# being told which films it came from (issue 29 §1, 10 q2).
def test_an_answer_is_checked_on_the_data_it_should_come_from():
    def mean_of_sick(labels, probabilities):
        return float(np.mean(probabilities[labels == 1]))

    labels, probs = np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.6, 0.3])
    others = {"all the photographed films": (np.array([1, 1, 0, 0]), probs)}
    assert diagnose_on_data(0.7, mean_of_sick, (labels, probs), others, "new_threshold") is None
    problem = diagnose_on_data(0.45, mean_of_sick, (labels, probs), others, "new_threshold")
    assert "For new_threshold you gave 0.45" in problem and "all the photographed films" in problem
    assert "which is not the right value" in diagnose_on_data(0.9, mean_of_sick, (labels, probs), others, "t")
    assert "text" in diagnose_on_data("0.7", mean_of_sick, (labels, probs), others, "t")


# Catches an exercise judged on its final word only (the right view by the wrong reasoning): the intermediate the
# blank asks for is compared entry by entry, and a mix-up (counts instead of widths) is named (issue 29 §1, 10 q3).
def test_an_intermediate_step_is_checked():
    widths = {"AP": 0.21, "PA": 0.15}
    assert diagnose_value({"AP": np.float64(0.21), "PA": 0.15}, widths, "view_rows") is None
    assert "no entry for 'PA'" in diagnose_value({"AP": 0.21}, widths, "view_rows")
    assert "view_rows['PA']" in diagnose_value({"AP": 0.21, "PA": 0.3}, widths, "view_rows")
    counts = {"AP": 162, "PA": 129}
    assert "number of films" in diagnose_value(counts, widths, "view_rows", mix_ups={"the number of films": counts})
    assert "a dict was expected" in diagnose_value([0.21, 0.15], widths, "view_rows")
    assert "capitals" in diagnose_value("ap", "AP", "wider_view")
    assert "3 values, but 4" in diagnose_value([1, 2, 3], [1, 2, 3, 4], "coco_box")
    assert diagnose_value(True, True, "x") is None and "without quotes" in diagnose_value("True", True, "x")


def _fraction_check(answer):
    return diagnose_number(answer, 0.0, "clean_sensitivity", fraction=True)


# Catches a percent accepted because the answer is 0 on this run, where 0 % and 0 agree (issue 29 §1: 05 q3 in
# fast mode): the check reads the learner's cell for the * 100.
def test_a_percent_that_happens_to_be_zero_is_caught(shell, capsys):
    shell.user_ns["q5"] = Exercise("q5", _fraction_check, hint="", solution="answer = m")
    shell.run_cell("m = 0.0")
    shell.run_cell("answer = 100 * m  # a percent\nq5.check(answer)")
    out = capsys.readouterr().out
    assert "q5: not quite" in out and "percent" in out
    shell.run_cell("answer = m\nq5.check(answer)")
    assert "q5: correct" in capsys.readouterr().out
    shell.user_ns.pop("q5")


# Catches 04 q3's max(results, key=results.get) ending in a raw TypeError with nothing a clinician can act on,
# and its check crashing on a list ("unhashable type: 'list'") (issue 29 §2).
def test_nb04_q3_explains_an_error_before_its_check(shell, capsys):
    from radkit.checks import nb04

    shell.user_ns["q3"] = nb04.q3
    shell.run_cell('results = {"CNN": {"AUC": 0.9}, "MobileNetV2": {"AUC": 0.95}}\n'
                   "def auc_of(name):\n    return results[name]['AUC']")
    shell.run_cell("best = max(results, key=results.get)\nq3.check(best, results)")
    out = capsys.readouterr().out
    assert "q3: not quite" in out and "whole dict" in out and "auc_of" in out
    shell.run_cell('best = ["MobileNetV2"]\nq3.check(best, results)')
    out = capsys.readouterr().out
    assert "q3: not quite" in out and "you gave ['MobileNetV2']" in out and "unhashable" not in out
    shell.run_cell("best = max(results, key=auc_of)\nq3.check(best, results)")
    assert "q3: correct" in capsys.readouterr().out
    for name in ("q3", "results", "auc_of", "best"):
        shell.user_ns.pop(name, None)


# Catches a value shown as Python writes it inside a container ([np.float64(0.5)]) and nan taken for a number.
def test_numbers_inside_containers_are_plain():
    assert short([np.float64(0.5), np.int64(3)]) == "[0.5, 3]"
    assert short({"AP": np.float64(0.25)}) == "{'AP': 0.25}"
    assert "not a number" in number_problem(float("nan"), "auc")
    assert "call it with brackets" in number_problem(len, "n")
