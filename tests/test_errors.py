"""The plain sentence radkit.setup() adds under the errors beginners meet most often (issue 9, section 5)."""

from __future__ import annotations

import numpy as np
import pytest

from radkit.errors import RadkitError, beginner_hint, show_friendly_errors


def _raised(code: str, names: dict | None = None) -> BaseException:
    try:
        exec(code, dict(names or {}))
    except Exception as error:  # the error a learner's cell would raise
        return error
    raise AssertionError(f"{code!r} raised nothing")


# Bug caught: `unsafe = C` (the letter without quotes) gets only "name 'C' is not defined".
def test_an_unquoted_letter_gets_told_to_use_quotes():
    hint = beginner_hint(_raised("unsafe = C"))
    assert 'quotes: "C"' in hint
    assert 'quotes: "yes"' in beginner_hint(_raised("needs_inverting = yes"))
    assert "capital" in beginner_hint(_raised("flag = true"))
    assert "Run All Above" in beginner_hint(_raised("print(trained_model)"))


# Bug caught: chest.modality (lower case) gets only pydicom's "has no attribute 'modality'".
def test_a_dicom_keyword_in_the_wrong_case_names_the_right_one():
    import pydicom
    from pydicom.data import get_testdata_file

    chest = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    assert beginner_hint(_raised("chest.modality", {"chest": chest})) == \
        "Capitals matter in Python: the name is .Modality, not .modality."
    assert beginner_hint(_raised("chest.NoSuchThing", {"chest": chest})) is None  # no invented advice
    assert ".shape" in beginner_hint(_raised("image.Shape", {"image": np.zeros(3)}))


# Bug caught: max(image) of a 2-D picture gets NumPy's "truth value ... is ambiguous" with no way forward.
def test_python_max_of_a_picture_points_to_numpy():
    hint = beginner_hint(_raised("max(image)", {"image": np.zeros((3, 3))}))
    assert "image.max()" in hint


# Bug caught: model.predict(film) with one raw (28, 28) film gets a Keras shape error nobody can read.
def test_a_raw_film_given_to_a_model_explains_the_shape():
    from radkit import models

    model = models.small_cnn((28, 28, 1))
    film = np.zeros((28, 28), np.uint8)
    hint = beginner_hint(_raised("model.predict(film, verbose=0)", {"model": model, "film": film}))
    assert "(number of pictures, 28, 28, 1)" in hint and "to_model_input" in hint


# Bug caught: a hook that swallows the traceback (the original last line must stay visible) or that
# hides RadkitError's short message.
def test_the_notebook_hook_keeps_the_traceback_and_adds_the_hint(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="nocolor")
    try:
        assert show_friendly_errors(shell)
        result = shell.run_cell("unsafe = C")
        out = capsys.readouterr()
        text = out.out + out.err
        assert isinstance(result.error_in_exec, NameError)
        assert "NameError: name 'C' is not defined" in text
        assert text.index("name 'C' is not defined") < text.index("RadKit hint:")
        shell.user_ns["RadkitError"] = RadkitError
        shell.run_cell("raise RadkitError('The file is missing.', 'Check the path.')")
        out = capsys.readouterr().out
        assert "RadKit says: The file is missing." in out and "Traceback" not in out
        shell.run_cell("x = 1 / 0")  # no hint for errors it does not know: the traceback alone
        out = capsys.readouterr()
        assert "ZeroDivisionError" in out.out + out.err and "RadKit hint" not in out.out + out.err
    finally:
        shell.set_custom_exc((), None)
        InteractiveShell.clear_instance()


def test_outside_a_notebook_nothing_is_installed(monkeypatch):
    import radkit.errors as errors

    monkeypatch.setattr(errors, "ipython_shell", lambda: None)
    assert show_friendly_errors() is False


@pytest.mark.parametrize("error", [KeyError("x"), TypeError("y"), ValueError("z")])
def test_other_errors_get_no_invented_hint(error):
    assert beginner_hint(error) is None
