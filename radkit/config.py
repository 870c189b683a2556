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

DEFAULT_SEED = 42


def data_dir() -> Path:
    """Return the folder where RadKit keeps downloaded data (created if needed)."""
    folder = os.environ.get("RADKIT_DATA") or platformdirs.user_cache_dir("radkit", appauthor=False)
    path = Path(folder).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def local_data_dir() -> Path | None:
    """Return the folder of pre-fetched dataset files, or None when none is set."""
    folder = os.environ.get("RADKIT_LOCAL_DATA")
    if not folder:
        return None
    path = Path(folder).expanduser()
    return path if path.is_dir() else None


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
    """Import TensorFlow without its start-up notes about GPUs and CPU instructions, which only confuse."""
    if "tensorflow" in sys.modules:  # first: traced code calls this, and must not touch os.environ (COURSE.md)
        return sys.modules["tensorflow"]
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
