"""RadKit's own error, whose message says in plain words what went wrong and what to do.

Introduced in notebook 00_start_here. In a notebook started with
``radkit.setup()``, a RadkitError is shown as a short message instead of a
long traceback from deep inside a library.
"""

from __future__ import annotations


class RadkitError(Exception):
    """A problem the user can fix. The message names the problem and the fix."""

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(problem if not fix else f"{problem}\nWhat to do: {fix}")


def ipython_shell():
    """The running notebook (IPython shell), or None outside a notebook."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


# Words a learner often types without quotes when an exercise asks for a letter or a word.
_ANSWER_WORDS = {"yes", "no", "normal", "pneumonia", "true", "false", "none"}


def beginner_hint(error: BaseException) -> str | None:
    """One plain sentence about the errors beginners meet most often, or None (notebook 00)."""
    import re

    message = str(error)
    if isinstance(error, NameError):
        match = re.search(r"name '(\w+)' is not defined", message)
        name = getattr(error, "name", None) or (match.group(1) if match else "")
        if name.lower() in ("true", "false", "none") and name not in ("True", "False", "None"):
            return f"Python writes {name.capitalize()} with a capital first letter (and no quotes)."
        if len(name) <= 2 or name.lower() in _ANSWER_WORDS:
            return (f"Python read {name} (without quotes) as the name of something made earlier; if you meant "
                    f"the letter or word itself, put it in quotes: \"{name}\".")
        if name:
            return (f"Python does not know the name {name} yet: run the cells above this one first "
                    "(menu Run > Run All Above), and check the spelling, capitals included.")
        return None
    if isinstance(error, AttributeError):
        match = re.search(r"has no attribute '(\w+)'", message)
        name = getattr(error, "name", None) or (match.group(1) if match else None)
        if not name:
            return None
        candidates = set()
        obj = getattr(error, "obj", None)
        if obj is not None:
            try:
                candidates.update(dir(obj))
            except Exception:  # an object whose dir() fails: no suggestion
                pass
        import sys

        if "pydicom" in sys.modules and "Dataset" in message:
            from pydicom.datadict import keyword_dict

            candidates.update(keyword_dict)
        same = sorted(c for c in candidates if c.lower() == name.lower() and c != name)
        if same:
            return f"Capitals matter in Python: the name is .{same[0]}, not .{name}."
        return None
    if isinstance(error, ValueError) and "truth value of an array" in message:
        return ("Python's own max, min, sum and `if` cannot judge a whole picture at once: use NumPy's versions, "
                "for example image.max() or np.max(image), and (image > 0.5).any() for a yes/no question.")
    if isinstance(error, ValueError) and re.search(r"incompatible (shape|with the layer)|Negative dimension size",
                                                    message):
        expected = re.search(r"[Ee]xpected shape=?\s*\(None, ([^)]*)\)", message)
        shape = f"(number of pictures, {expected.group(1)})" if expected else \
            "(number of pictures, height, width, channels)"
        return (f"The model takes a stack of pictures shaped {shape}, scaled 0..1, not one raw film: prepare "
                "it with radkit.data.to_model_input(film), which gives the shape (1, height, width, 1).")
    return None


def show_friendly_errors(shell=None) -> bool:
    """Show RadkitErrors in a notebook as a short message, not a traceback, and add one plain
    sentence under the usual traceback for the errors beginners meet most often (notebook 00).

    Returns True when it was installed (that is, inside IPython/Jupyter).
    """
    shell = shell or ipython_shell()
    if shell is None:
        return False

    def _handler(shell, etype, value, tb, tb_offset=None):
        if isinstance(value, RadkitError):
            print(f"RadKit says: {value}")
            return None
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)  # the usual traceback, last line included
        try:
            hint = beginner_hint(value)
        except Exception:  # a hint must never hide the real error
            hint = None
        if hint:
            print(f"RadKit hint: {hint}")
        return None

    shell.set_custom_exc((Exception,), _handler)
    return True
