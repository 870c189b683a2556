"""RadKit: small, readable helpers for a deep-learning course for clinicians.

Each module has one job (CONTRIBUTING.md has the full table). Data flows one way, from files to arrays,
models, predictions, and then metrics and pictures:

- set-up: ``config`` (data folder, seeds, fast mode, the three data situations), ``errors`` (plain-English
  errors that say the fix), ``doctor`` (is this computer ready?), ``cli`` (the ``radkit`` command);
- data: ``registry`` (the dataset cards), ``download`` (checked, atomic downloads), ``files`` (safe writing),
  ``pack`` (the workshop data pack), ``nih`` (NIH films one at a time), ``phantoms`` (practice images),
  ``data`` (loaders and the one decoding path), ``dicom`` (reading DICOM), ``deidentification`` (the DICOM
  Basic Profile), ``volumes`` (3-D scans, NIfTI), ``labels`` (multi-label tables), ``boxes`` (box formats,
  IoU, mAP, counts);
- models: ``models`` (CNNs, transfer, U-Net, detectors), ``pretrained`` (the course's shipped classifier),
  ``train`` (one seeded training loop), ``own_images`` (a classifier for your own folder of films);
- judging and explaining: ``evaluate`` (clinical metrics with intervals), ``masks`` (Dice, volumes),
  ``explain`` (Grad-CAM, occlusion), ``report`` (model cards), ``viz`` (pictures and sliders),
  ``figure_check`` (figures that read right);
- sharing: ``deploy`` (the browser app);
- the course itself: ``exercises`` and ``checks`` (self-checking exercises), ``course`` (makes course/).

Everything returns plain NumPy arrays and Keras models. Modules load on first use (``radkit.data``), so
``import radkit`` stays quick.
"""

from __future__ import annotations

import pkgutil

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


# Every module and package in this folder, loaded on first use (``radkit.data``): found, not listed, so none is missed.
_SUBMODULES = {module.name for module in pkgutil.iter_modules(__path__) if not module.name.startswith("_")}


def __getattr__(name: str):
    """Load a submodule the first time it is used (``radkit.data``), so ``import radkit`` stays quick."""
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"radkit.{name}")
    raise AttributeError(f"module 'radkit' has no attribute {name!r}")
