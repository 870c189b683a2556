"""Where data lives, how to make a run repeatable, and the fast mode switch.

Introduced in notebook 00_start_here. Three settings, each an environment
variable so that an instructor can set them once for a whole room:

- ``RADKIT_DATA``: the folder where downloads and caches are kept.
  Default: a per-user cache folder (``~/.cache/radkit`` on Linux,
  ``~/Library/Caches/radkit`` on macOS, ``%LOCALAPPDATA%\\radkit\\Cache`` on Windows).
- ``RADKIT_LOCAL_DATA``: a folder that already holds dataset files (a USB
  stick, a shared drive, a pre-fetched copy). Files found there are used
  instead of downloading.
- ``RADKIT_FAST``: set to ``1`` for fast mode (small data, few epochs). CI
  uses it; a learner on a slow laptop may use it too.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from pathlib import Path

import platformdirs

from radkit.errors import RadkitError

DEFAULT_SEED = 42
_SAID = set()  # notes already printed once in this session


def data_dir_setting() -> Path:
    """The data folder's path as set (``RADKIT_DATA`` or the per-user cache folder), without creating it."""
    folder = os.environ.get("RADKIT_DATA") or platformdirs.user_cache_dir("radkit", appauthor=False)
    return Path(folder).expanduser()


def data_dir() -> Path:
    """Return the folder where RadKit keeps downloaded data (created if needed).

    Raises RadkitError, in plain words, when the folder cannot be created.
    """
    path = data_dir_setting()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        why = "you do not have permission to create it" if isinstance(error, PermissionError) else \
            (error.strerror or type(error).__name__).lower()
        raise RadkitError(
            f"RadKit cannot create its data folder {display_path(path, data_folders=False)}: {why}.",
            "Set RADKIT_DATA to a folder you can write to (for example a folder in your home folder), "
            "or ask your course instructor. Without it, the notebooks use the built-in practice images.",
        ) from None
    return path


def local_data_problem() -> str | None:
    """Why ``RADKIT_LOCAL_DATA`` is set but cannot be used (None when it is unset or fine)."""
    folder = os.environ.get("RADKIT_LOCAL_DATA")
    if not folder:
        return None
    path = Path(folder).expanduser()
    if path.is_dir():
        return None
    what = "a file, not a folder" if path.exists() else "no folder there"
    return f"RADKIT_LOCAL_DATA is set to {display_path(path, data_folders=False)}, but there is {what}, so it is ignored"


def local_data_dir() -> Path | None:
    """Return the folder of pre-fetched dataset files, or None when none is set (or it does not exist).

    When ``RADKIT_LOCAL_DATA`` points nowhere, says so once instead of ignoring it silently.
    """
    folder = os.environ.get("RADKIT_LOCAL_DATA")
    if not folder:
        return None
    problem = local_data_problem()
    if problem:
        say_once(f"Note: {problem}. Check the path (a USB stick may not be plugged in).")
        return None
    return Path(folder).expanduser()


SITUATIONS = {
    "pack": "the data pack (RADKIT_LOCAL_DATA): real data, copied in advance",
    "downloads": "downloads: real data fetched from each dataset's own source when first needed",
    "nothing": "no data at all (RADKIT_OFFLINE=1): practice phantoms and the files installed packages ship",
}


def data_situation() -> str:
    """Which of the course's three data situations this computer is in: "pack", "downloads" or "nothing".

    - "pack": ``RADKIT_LOCAL_DATA`` points at a folder of dataset files (a workshop's data pack, a USB stick);
    - "downloads": no pack, but the network may be used: each dataset is fetched from its own source once;
    - "nothing": ``RADKIT_OFFLINE=1``: only practice phantoms and what installed packages ship.

    In the "downloads" situation a dataset whose download fails still falls back to phantoms; each
    notebook's data cell says which data it actually uses. Introduced in notebook 00.
    """
    if local_data_dir() is not None:
        return "pack"
    return "nothing" if offline() else "downloads"


def say_once(message: str) -> None:
    """Print a note once per session (the same note in every cell would only be noise)."""
    if message not in _SAID:
        _SAID.add(message)
        print(message)


def display_path(path, data_folders: bool = True) -> str:
    """A path as it may be shown in a notebook: relative to the data folders, ``~/...``, or relative.

    Notebook outputs are shared, so they never show this computer's absolute paths
    (which hold user names and folder layouts).
    """
    path = Path(path).expanduser()
    try:
        path = path.absolute()
    except OSError:
        return path.name
    places = []
    local = os.environ.get("RADKIT_LOCAL_DATA")
    if local and data_folders:
        places.append((Path(local).expanduser().absolute(), "RADKIT_LOCAL_DATA"))
    if data_folders:
        places.append((data_dir_setting().absolute(), "data folder"))
    for base, name in places:
        if path == base:
            return f"<{name}>"
        if base in path.parents:
            return f"<{name}>/{path.relative_to(base).as_posix()}"
    try:
        return "./" + path.relative_to(Path.cwd()).as_posix() if path != Path.cwd() else "."
    except (ValueError, OSError):
        pass
    home = Path.home()
    if home in path.parents or path == home:
        return "~/" + path.relative_to(home).as_posix() if path != home else "~"
    return f".../{path.name}" if path.name else str(path)


def offline() -> bool:
    """True when the user asked RadKit never to use the network (``RADKIT_OFFLINE=1``)."""
    return os.environ.get("RADKIT_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def fast_mode() -> bool:
    """True when fast mode is on (``RADKIT_FAST=1``): small data and few epochs."""
    return os.environ.get("RADKIT_FAST", "").strip().lower() in ("1", "true", "yes", "on")


def pick(full, fast):
    """Return ``fast`` in fast mode and ``full`` otherwise.

    Notebooks use this for every size that sets the running time, so CI
    can run the very same notebook quickly:

    >>> epochs = pick(full=15, fast=2)
    """
    return fast if fast_mode() else full


@contextlib.contextmanager
def _quiet_stderr():
    """Hide messages written straight to the error stream by compiled code (TensorFlow's start-up notes)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real error stream (some notebook front-ends)
        yield
        return
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow():
    """Import TensorFlow without its start-up notes about GPUs and CPU instructions, which only confuse.

    Functions that TensorFlow traces (augmentation) call this too, so once TensorFlow is loaded it
    returns at once and touches nothing else: reaching ``os.environ`` inside traced code made
    TensorFlow print a warning holding every environment variable (tokens included).
    """
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        return tf
    return _first_tensorflow_import()


def _first_tensorflow_import():
    """Set the quiet log level before TensorFlow starts (it reads it once), then import it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _quiet_stderr():
        import tensorflow as tf
    return tf


def import_keras():
    """Import Keras (and the TensorFlow under it) quietly; modules call this so ``import radkit`` stays fast."""
    import_tensorflow()
    import keras

    return keras


def set_seed(seed: int = DEFAULT_SEED) -> int:
    """Make a run repeatable: seed Python, NumPy and TensorFlow, and ask
    TensorFlow for deterministic operations. Returns the seed used.

    Called at the start of each notebook and right before each model is built.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    try:
        tf = import_tensorflow()
        keras = import_keras()
    except ImportError:  # the DICOM lessons work without TensorFlow
        return seed
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # older TensorFlow: seeding alone still helps
        pass
    return seed
