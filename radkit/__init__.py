"""RadKit: small, readable helpers for a deep-learning course for clinicians.

Each module has one job: ``config`` (data folder, seeds, fast mode),
``phantoms`` (generated practice images), ``data`` (datasets and loaders),
``dicom`` (reading DICOM), ``viz`` (pictures and sliders), ``models``,
``train``, ``evaluate``, ``explain``, ``deploy`` (the browser app),
``exercises`` (self-checks), ``doctor`` (is this machine ready?).
Everything returns plain NumPy arrays and Keras models.
"""

from __future__ import annotations

__version__ = "0.1.0"

from radkit.config import data_dir, fast_mode, pick, set_seed  # noqa: E402
from radkit.errors import RadkitError  # noqa: E402

__all__ = ["RadkitError", "data_dir", "fast_mode", "pick", "set_seed", "setup"]


def setup(seed: int = 42, quiet: bool = False) -> None:
    """Start a notebook: make it repeatable, show errors plainly, say how it is set up.

    Run once in the first code cell of every notebook. Also adds one plain sentence under the
    errors beginners meet most often (radkit.errors.beginner_hint).
    """
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's start-up chatter
    from radkit.errors import show_friendly_errors
    from radkit.exercises import define_blank

    set_seed(seed)
    show_friendly_errors()
    define_blank()
    try:
        import matplotlib.pyplot as plt

        plt.rcParams.update({"figure.dpi": 80, "image.cmap": "gray", "axes.grid": False})
        from radkit.figure_check import watch_figures

        watch_figures()  # each figure shown is checked for titles and legends drawn over each other
    except ImportError:
        pass
    if not quiet:
        from radkit.config import display_path

        mode = "FAST (small data, few epochs)" if fast_mode() else "full"
        try:  # shown as ~/... (never this computer's absolute path: notebook outputs get shared)
            folder = display_path(data_dir(), data_folders=False)
        except RadkitError as error:
            folder = f"none ({error.problem} The notebooks use the built-in practice images.)"
        print(f"RadKit {__version__} ready | mode: {mode} | seed: {seed} | data folder: {folder}")
        from radkit.config import SITUATIONS, data_situation

        print(f"Data: {SITUATIONS[data_situation()]}")


_SUBMODULES = {"boxes", "checks", "cli", "config", "course", "data", "deidentification", "deploy", "dicom",
               "doctor", "download", "errors", "evaluate", "exercises", "explain", "figure_check", "files", "labels",
               "masks", "models", "nih", "pack", "phantoms", "registry", "report", "train", "viz", "volumes"}


def __getattr__(name: str):
    """Load a submodule the first time it is used (``radkit.data``), so ``import radkit`` stays quick."""
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"radkit.{name}")
    raise AttributeError(f"module 'radkit' has no attribute {name!r}")
