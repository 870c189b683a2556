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


def show_friendly_errors(shell=None) -> bool:
    """Show RadkitErrors in a notebook as a short message, not a traceback.

    Returns True when it was installed (that is, inside IPython/Jupyter).
    """
    shell = shell or ipython_shell()
    if shell is None:
        return False

    def _handler(shell, etype, value, tb, tb_offset=None):
        print(f"RadKit says: {value}")
        return None

    shell.set_custom_exc((RadkitError,), _handler)
    return True
